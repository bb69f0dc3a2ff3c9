/* Layering fixture: base reaching up into kafka, which the table forbids. */
#include "base/log.h"
#include "kafka/kafka.h"
