# A daemon directory (src/worker, src/producer, ...) builds its modules into a static
# core library, ride_<name>_core, that tests link too, and main.c into the program.
#   ride_daemon(NAME PROGRAM LIBRARY...)   LIBRARY: the src/common libraries it uses
function(ride_daemon name program)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.c)
  list(REMOVE_ITEM sources ${CMAKE_CURRENT_SOURCE_DIR}/main.c)
  if(sources)
    add_library(ride_${name}_core STATIC ${sources})
    ride_target_defaults(ride_${name}_core)
    target_include_directories(ride_${name}_core PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
    target_link_libraries(ride_${name}_core PUBLIC ${ARGN})
    set_property(GLOBAL APPEND PROPERTY RIDE_CORE_LIBRARIES ride_${name}_core)
  endif()
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/main.c)
    add_executable(${program} main.c)
    ride_target_defaults(${program})
    target_link_libraries(${program} PRIVATE $<TARGET_NAME_IF_EXISTS:ride_${name}_core> ${ARGN})
  endif()
endfunction()
