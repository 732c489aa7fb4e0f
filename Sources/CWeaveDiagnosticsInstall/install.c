#include "CWeaveDiagnosticsInstall.h"

// Swift has no module initializers, and the hub (WeaveCore) must not name the diagnostics
// layer above it; yet a program that links WeaveDiagnostics (every `import Weave` program)
// expects Hub.Configuration's diagnostics options to work without calling anything. So the
// layer installs itself when the image that links it loads, before main: the installer
// only appends to a list under a lock, which is safe this early.
__attribute__((constructor))
static void weave_diagnostics_constructor(void) {
    weave_diagnostics_install();
}
