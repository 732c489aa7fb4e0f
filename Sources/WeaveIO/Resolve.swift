import CLibUV
import Glibc
import WeaveCore

/// Resolves `host` to addresses with `uv_getaddrinfo` on libuv's thread pool, parking only
/// the calling coroutine (gevent's cooperative DNS).
///
/// Numeric addresses return at once. Throws ``UVError`` (such as `EAI_NONAME`),
/// ``IOError/Code/noAddress``, ``TimeoutError`` after `timeout` and `CancellationError`
/// (the lookup is then cancelled or its late result dropped).
public func resolve(host: String, port: Int, timeout: Duration? = nil) throws -> [SocketAddress] {
    if let numeric = try? SocketAddress(ip: host, port: port) { return [numeric] }
    let coroutine = try AnyCoroutine.requireCurrent("resolve")
    let hub = coroutine.hub
    let request = AddressLookup(hub: hub, coroutine: coroutine)
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    let status = uv_getaddrinfo(hub.loop, request.request, { request, status, info in
        AddressLookup.finish(request!, status: status, info: info)
    }, host, String(port), &hints)
    guard status == 0 else {
        request.release()
        throw UVError(status, operation: "getaddrinfo", argument: host)
    }
    hub.beginOutsideWork()
    defer { request.abandon() }
    while !request.isDone {
        do {
            try coroutine.park(.other("resolve \(host)"), timeout: timeout)
        } catch {
            _ = uv_cancel(UnsafeMutableRawPointer(request.request).assumingMemoryBound(to: uv_req_t.self))
            throw error
        }
    }
    if request.status != 0 { throw UVError(request.status, operation: "getaddrinfo", argument: host) }
    guard !request.addresses.isEmpty else {
        throw IOError(.noAddress, "getaddrinfo \(host): no IPv4 or IPv6 address")
    }
    return request.addresses
}

/// The heap box of one `uv_getaddrinfo` request: lives until libuv's callback has run,
/// even if the coroutine that asked has gone.
private final class AddressLookup {
    let request: UnsafeMutablePointer<uv_getaddrinfo_t>
    unowned(unsafe) let hub: Hub
    /// Cleared when the asking coroutine stops waiting.
    var waiter: AnyCoroutine?
    var isDone = false
    var status: Int32 = 0
    var addresses: [SocketAddress] = []

    init(hub: Hub, coroutine: AnyCoroutine) {
        self.hub = hub
        self.waiter = coroutine
        request = .allocate(capacity: 1)
        // Retained by the request until the callback.
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    /// Frees the request when it was never started.
    func release() {
        Unmanaged<AddressLookup>.fromOpaque(request.pointee.data).release()
        request.deallocate()
    }

    func abandon() { waiter = nil }

    static func finish(_ request: UnsafeMutablePointer<uv_getaddrinfo_t>, status: Int32, info: UnsafeMutablePointer<addrinfo>?) {
        let lookup = Unmanaged<AddressLookup>.fromOpaque(request.pointee.data).takeRetainedValue()
        lookup.hub.endOutsideWork()
        lookup.status = status
        var entry = info
        while let current = entry {
            if let address = current.pointee.ai_addr, current.pointee.ai_family == AF_INET || current.pointee.ai_family == AF_INET6 {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { bytes in
                    bytes.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(current.pointee.ai_addrlen)))
                }
                lookup.addresses.append(SocketAddress(storage))
            }
            entry = current.pointee.ai_next
        }
        if let info { uv_freeaddrinfo(info) }
        lookup.isDone = true
        if let waiter = lookup.waiter { lookup.hub.makeReady(waiter) }
        request.deallocate()
    }
}
