/* zookeeper.h - a standalone ZooKeeper server for the demo: Debian's server jar on
 * loopback, a free port, its data in a directory the caller owns. */
#ifndef RIDE_DEMO_ZOOKEEPER_H
#define RIDE_DEMO_ZOOKEEPER_H

#include <stdint.h>

#include "proc.h"

/* Starts the server with its config and data under dir and its output in log_path,
 * and waits up to timeout_ms until it accepts sessions. Returns the process and
 * its port in *port, or NULL with the reason in err. */
demo_proc *demo_zookeeper_start(const char *dir, const char *log_path, int timeout_ms,
                                uint16_t *port, char *err, size_t errlen);

#endif
