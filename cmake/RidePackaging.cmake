# `cmake --install` and the Debian package (cpack -G DEB): the programs, the
# systemd units and sysusers file (deploy/systemd), sample configurations and
# manifests, the plugin SDK's headers with a pkg-config file.
include(GNUInstallDirs)

set(RIDE_PROGRAMS ride-master ride-worker ride-producer ridectl)
install(TARGETS ${RIDE_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The plugin SDK: its two headers and a pkg-config file that finds them. A plugin
# links nothing from RIDE (ride/task.h), so no library is installed.
install(FILES ${PROJECT_SOURCE_DIR}/include/ride/task.h ${PROJECT_SOURCE_DIR}/include/ride/image.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ride)
file(RELATIVE_PATH RIDE_PC_INCLUDEDIR "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig"
  "/p/${CMAKE_INSTALL_INCLUDEDIR}")
configure_file(${PROJECT_SOURCE_DIR}/deploy/package/ride.pc.in ${PROJECT_BINARY_DIR}/ride.pc
  @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/ride.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# Units name /usr/bin in the source tree (what the package installs); an install
# elsewhere gets its own bin directory written in at install time.
install(CODE "set(RIDE_UNIT_DIR \"${PROJECT_SOURCE_DIR}/deploy/systemd\")
set(RIDE_UNIT_STAGING \"${PROJECT_BINARY_DIR}/units-staging\")
set(RIDE_UNIT_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
include(\"${PROJECT_SOURCE_DIR}/cmake/RideInstallUnits.cmake\")")
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/ride.conf DESTINATION lib/sysusers.d)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/config/master.yaml
  ${PROJECT_SOURCE_DIR}/deploy/config/worker.yaml ${PROJECT_SOURCE_DIR}/deploy/config/producer.yaml
  DESTINATION ${CMAKE_INSTALL_DATADIR}/ride/examples)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/config/apps
  DESTINATION ${CMAKE_INSTALL_DATADIR}/ride/examples FILES_MATCHING PATTERN "*.yaml")
install(FILES ${PROJECT_SOURCE_DIR}/deploy/grafana/ride.json
  DESTINATION ${CMAKE_INSTALL_DATADIR}/ride/grafana)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/prometheus/prometheus.yml
  DESTINATION ${CMAKE_INSTALL_DATADIR}/ride/prometheus)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/prometheus/targets/example.json
  DESTINATION ${CMAKE_INSTALL_DATADIR}/ride/prometheus/targets)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}
  RENAME deploy.md)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ride)
set(CPACK_PACKAGE_VENDOR "RIDE developers")
set(CPACK_PACKAGE_CONTACT "RIDE developers <dev@ride.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "real-time processing of live camera streams on a cluster (Kafka, ZooKeeper)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION video)
# Library dependencies come from dpkg-shlibdeps; systemd provides systemd-sysusers;
# opencv-data the face cascade the facedetect task loads by default.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd, opencv-data")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/deploy/package/postinst ${PROJECT_SOURCE_DIR}/deploy/package/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
