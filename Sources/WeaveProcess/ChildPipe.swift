import CLibUV

/// One end of a pipe to a child's standard input, output or error: a ``StreamConnection``
/// that names the child in errors and deadlock reports.
final class ChildPipe: StreamConnection {
    /// Such as `stdout of 4121 (cat)`.
    let label: String

    init(hub: Hub, handle: UnsafeMutablePointer<uv_pipe_t>, label: String) {
        self.label = label
        super.init(hub: hub, stream: UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self))
    }

    override var waitDescription: String { label }
}
