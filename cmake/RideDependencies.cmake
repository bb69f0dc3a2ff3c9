# Every dependency is a Debian package; scripts/install-deps.sh installs them by name.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS C)
find_package(OpenCV 4 REQUIRED COMPONENTS core imgproc imgcodecs videoio objdetect)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
pkg_check_modules(ISAL REQUIRED IMPORTED_TARGET libisal)
if(RIDE_BUILD_TESTS)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()
find_library(MATH_LIBRARY m REQUIRED)
# The matmul and fft kernels: OpenBLAS (its OpenMP build, whose calls from inside
# the kernels' OpenMP bands stay on the calling thread) and FFTW in single
# precision with its threads library.
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
pkg_check_modules(FFTW3F REQUIRED IMPORTED_TARGET fftw3f)
find_library(FFTW3F_THREADS_LIBRARY fftw3f_threads REQUIRED)

# Distributed runtime: Kafka (librdkafka, with its mock cluster as the embedded
# broker), ZooKeeper's C client (no pkg-config file; its synchronous API needs
# THREADED), libuv, jansson, and llhttp, whose generated C sources Debian ships in
# node-llhttp for embedding.
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
# sd_notify for the Type=notify units in deploy/systemd (ride/systemd.h).
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
find_library(ZOOKEEPER_LIBRARY zookeeper_mt REQUIRED)
find_path(ZOOKEEPER_INCLUDE_DIR zookeeper/zookeeper.h REQUIRED)
add_library(ride_zookeeper INTERFACE)
target_link_libraries(ride_zookeeper INTERFACE ${ZOOKEEPER_LIBRARY})
target_include_directories(ride_zookeeper INTERFACE ${ZOOKEEPER_INCLUDE_DIR})
target_compile_definitions(ride_zookeeper INTERFACE THREADED)

set(RIDE_LLHTTP_DIR /usr/share/llhttp)
find_path(LLHTTP_INCLUDE_DIR llhttp.h PATHS /usr/share/include/llhttp REQUIRED NO_DEFAULT_PATH)
if(NOT EXISTS ${RIDE_LLHTTP_DIR}/llhttp.c)
  message(FATAL_ERROR "llhttp sources not found in ${RIDE_LLHTTP_DIR} (install node-llhttp)")
endif()
add_library(ride_llhttp STATIC ${RIDE_LLHTTP_DIR}/llhttp.c ${RIDE_LLHTTP_DIR}/api.c
  ${RIDE_LLHTTP_DIR}/http.c)
target_include_directories(ride_llhttp SYSTEM PUBLIC ${LLHTTP_INCLUDE_DIR})
set_target_properties(ride_llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON)

# Servers the integration tests start on loopback.
find_program(RIDE_JAVA java)
set(RIDE_ZOOKEEPER_CLASSPATH
  "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"
  CACHE STRING "Classpath that starts ZooKeeperServerMain in tests")
