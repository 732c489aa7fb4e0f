#ifndef CWEAVE_DIAGNOSTICS_INSTALL_H
#define CWEAVE_DIAGNOSTICS_INSTALL_H

// Defined in Swift by WeaveDiagnostics (`installDiagnostics()`): adds the diagnostics to the
// hooks every hub runs when it starts. Safe to call more than once.
void weave_diagnostics_install(void);

#endif
