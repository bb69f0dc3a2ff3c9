/* Layering fixture: media reaching tooling through a relative path. */
#include <stdio.h>
#include "../../tooling/audit.h"
#include "media/missing.h"
