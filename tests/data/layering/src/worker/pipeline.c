/* Layering fixture: the worker including the master's header by its bare name. */
#include "base/log.h"
#include "assign.h"
