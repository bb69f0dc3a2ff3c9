/* Layering fixture: kafka may include base. */
#include "base/log.h"
