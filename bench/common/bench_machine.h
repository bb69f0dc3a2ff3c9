/* bench_machine.h - what the benchmarks say about the machine they ran on. */
#ifndef RIDE_BENCH_MACHINE_H
#define RIDE_BENCH_MACHINE_H

#include <stddef.h>

/* The CPU's "model name" from /proc/cpuinfo into buf, or "unknown CPU". */
void ride_bench_cpu_model(char *buf, size_t len);

#endif
