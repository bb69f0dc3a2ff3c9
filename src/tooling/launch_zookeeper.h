/* launch_zookeeper.h - a standalone ZooKeeper server for ride-demo and the
 * integration tests: Debian's server (RIDE_JAVA with RIDE_ZOOKEEPER_CLASSPATH) on
 * 127.0.0.1 and a free port, its config and data in a directory the caller owns. */
#ifndef RIDE_LAUNCH_ZOOKEEPER_H
#define RIDE_LAUNCH_ZOOKEEPER_H

#include <stddef.h>
#include <stdint.h>

#include "launch_process.h"

/* Why the server cannot run here (no Java runtime, no server jar in the
 * classpath), or NULL when it can. */
const char *ride_launch_zookeeper_unavailable(void);

/* Writes dir/zoo.cfg, starts the server with its output appended to log_path and
 * waits up to timeout_ms until the four-letter command `srvr` answers with the
 * server's Mode, i.e. sessions are accepted. The port is found by binding port 0
 * and closing it; another process could take it before the server binds, so a
 * server that fails to start is tried once more on a new port. Returns the process
 * and its port in *port, or NULL with the reason in err. */
ride_launch_proc *ride_launch_zookeeper_start(const char *dir, const char *log_path,
                                              int timeout_ms, uint16_t *port, char *err,
                                              size_t errlen);

/* Sends a four-letter command ("srvr", "mntr", ...) to 127.0.0.1:port and reads the
 * answer into buf (NUL-terminated); each step times out after timeout_ms. Returns
 * the answer's length or -1. */
int ride_launch_four_letter(uint16_t port, const char *cmd, char *buf, size_t len,
                            int timeout_ms);
/* A port on 127.0.0.1 that was free a moment ago (bind port 0, read, close); 0 on error. */
uint16_t ride_launch_free_port(void);

#endif
