/* map.c - the out-of-memory flag of the uthash tables (see map.h). */
#include "proto/map.h"

_Thread_local int map_oom;
