// The umbrella module: `import Weave` gives every layer, as one module did before the split.
// A program that needs only the hub, sync primitives, queues and pools can depend on the
// `WeaveCore` product instead.
//
// Linking this module links WeaveDiagnostics, which installs itself into every hub before
// `main` runs (see `CWeaveDiagnosticsInstall`): `Hub.Configuration`'s diagnostics options
// work with no call from the user.
@_exported import WeaveBridges
@_exported import WeaveCore
@_exported import WeaveDiagnostics
@_exported import WeaveIO
@_exported import WeaveProcess
