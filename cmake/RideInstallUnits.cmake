# Runs at install time (RidePackaging.cmake): installs the units of RIDE_UNIT_DIR
# with /usr/bin/ replaced by the bin directory of this install's prefix.
file(GLOB units "${RIDE_UNIT_DIR}/*.service")
# One staging directory per destination: installs and packaging may run at once.
string(MD5 destination "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
set(staging "${RIDE_UNIT_STAGING}/${destination}")
file(MAKE_DIRECTORY "${staging}")
foreach(unit ${units})
  get_filename_component(name "${unit}" NAME)
  file(READ "${unit}" text)
  string(REPLACE "/usr/bin/" "${CMAKE_INSTALL_PREFIX}/${RIDE_UNIT_BINDIR}/" text "${text}")
  file(WRITE "${staging}/${name}" "${text}")
  file(INSTALL "${staging}/${name}" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endforeach()
