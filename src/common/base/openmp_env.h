/* base/openmp_env.h - keeps OpenMP's idle threads from spinning on cores that
 * other work needs (docs/decisions.md, "OpenMP waits passively"). */
#ifndef RIDE_BASE_OPENMP_ENV_H
#define RIDE_BASE_OPENMP_ENV_H

/* When OMP_WAIT_POLICY is unset, sets it to PASSIVE and executes this program
 * again with argv, so that libgomp, which reads the variable once when it is
 * loaded, sees it. Returns (with the variable set, for any child) only when the
 * variable was already set, which keeps an operator's own choice, or when the
 * execution failed. Call it before any thread starts, once the log level is
 * set: a debug line says what it did. */
void ride_openmp_wait_passively(char **argv);

#endif
