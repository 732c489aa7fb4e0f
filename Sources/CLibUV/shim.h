#ifndef WEAVE_CLIBUV_SHIM_H
#define WEAVE_CLIBUV_SHIM_H
#include <uv.h>
#endif
