import CLibUV
import WeaveCore

/// One end of a pipe as a ``StreamConnection`` that names itself in errors and deadlock
/// reports: the process layer's pipes to a child's standard input, output and error.
///
/// Here rather than in the process layer because ``StreamConnection`` is not open: its
/// subclasses live in this module, so its read and write paths stay statically dispatched.
package final class LabeledPipe: StreamConnection {
    /// Such as `stdout of 4121 (cat)`.
    let label: String

    package init(hub: Hub, handle: UnsafeMutablePointer<uv_pipe_t>, label: String) {
        self.label = label
        super.init(hub: hub, stream: UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self))
    }

    override package var waitDescription: String { label }
}
