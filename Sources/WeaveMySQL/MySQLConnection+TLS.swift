import CMariaDB
import Glibc
import Weave

extension MySQLConnection {
    /// Whether the session is encrypted with TLS.
    public var isEncrypted: Bool { tlsCipher != nil }

    /// The TLS cipher of the session (such as `TLS_AES_256_GCM_SHA384`), nil when it is not
    /// encrypted or closed.
    public var tlsCipher: String? {
        guard state != .closed, let cipher = mysql_get_ssl_cipher(handle) else { return nil }
        return String(cString: cipher)
    }

    /// Hands `tls` to the library before the connect.
    func configureTLS(_ tls: MySQLTLS) {
        mysql_options(handle, MYSQL_OPT_SSL_CA, tls.caFile)
        mysql_options(handle, MYSQL_OPT_SSL_CERT, tls.certificateFile)
        mysql_options(handle, MYSQL_OPT_SSL_KEY, tls.keyFile)
        var verify: my_bool = tls.verifiesServer ? 1 : 0
        mysql_options(handle, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify)
        // Asks for TLS even with no file given. Unverified, the library falls back to plain
        // text when the server offers no TLS: the connect checks the session after.
        var enforce: my_bool = 1
        mysql_options(handle, MYSQL_OPT_SSL_ENFORCE, &enforce)
        // Connector/C 3.3 waits inside the TLS handshake (openssl.c's ma_tls_connect) with the
        // socket plugin's blocking poll, outside its non-blocking API; the hook parks the
        // coroutine instead.
        mysql_options(handle, MARIADB_OPT_IO_WAIT, unsafeBitCast(libraryWaitHook, to: UnsafeRawPointer.self))
    }

    /// Runs one step of the connect (`mysql_real_connect_start` or `_cont`) with this
    /// connection findable by the wait hook, and its socket kept non-blocking.
    func withLibraryWaits(_ step: () -> Int32) -> Int32 {
        pthread_setspecific(drivingConnectionKey, Unmanaged.passUnretained(self).toOpaque())
        defer { pthread_setspecific(drivingConnectionKey, nil) }
        let status = step()
        if status != 0 {
            keepSocketNonBlocking(connected: false)
            placeServerName(inHandshake: false)
        }
        return status
    }

    /// Keeps the socket of a TLS connection non-blocking.
    ///
    /// Connector/C 3.3 puts its socket back in blocking mode once the TCP connect is done (its
    /// own non-blocking reads pass `MSG_DONTWAIT`), but OpenSSL reads it with a plain `read`:
    /// the handshake, and every TLS read after it, would block the hub's thread. Weave sets
    /// `O_NONBLOCK` again (the library remembers the mode it set, so it does not undo it). The
    /// one read that can come before Weave sees the socket (the greeting already there and the
    /// handshake begun in the same library call) is bounded by a receive timeout of a
    /// millisecond while connecting: then OpenSSL wants to read and the wait hook parks.
    func keepSocketNonBlocking(connected: Bool) {
        let fd = Int32(mysql_get_socket(handle))
        guard fd >= 0 else { return }
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 && flags & O_NONBLOCK == 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
        if connected {
            var none = timeval()
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, socklen_t(MemoryLayout<timeval>.size))
            handshakeGuardedSocket = -1
        } else if handshakeGuardedSocket != fd {
            var tick = timeval(tv_sec: 0, tv_usec: 1000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, socklen_t(MemoryLayout<timeval>.size))
            handshakeGuardedSocket = fd
        }
    }

    /// The library waits for `fd` inside a call this connection made: parks the coroutine on
    /// the hub until it is ready. Returns as `poll` would: 1 ready, 0 the library's own timeout,
    /// -1 interrupted (the error is kept in `libraryWaitInterruption`, for the connect to throw).
    ///
    /// Runs on the library's call stack (its non-blocking context), inside a C frame: no Swift
    /// error may leave it.
    fileprivate func waitInsideLibrary(fd: Int32, forReading: Bool, timeoutMilliseconds: Int32) -> Int32 {
        placeServerName(inHandshake: true)
        keepSocketNonBlocking(connected: false)
        defer {
            // Other coroutines ran while this one was parked, and may have used the slot.
            pthread_setspecific(drivingConnectionKey, Unmanaged.passUnretained(self).toOpaque())
        }
        let timeout: Duration? = timeoutMilliseconds > 0 ? .milliseconds(Int(timeoutMilliseconds)) : nil
        do {
            let watch = try socketWatch()
            precondition(watch.fd == fd, "MySQLConnection: the library waits on another socket")
            // The library waits to read even where OpenSSL wants to write (its ma_tls_connect);
            // in a handshake the socket's buffer is never full, so a read wait is what it needs.
            if forReading {
                try watch.waitReadable(timeout: timeout)
            } else {
                try watch.waitWritable(timeout: timeout)
            }
            return 1
        } catch let error as TimeoutError where timeout != nil && error.scope == nil {
            return 0
        } catch is UVError {
            // A socket error (POLLERR): the library's next read on it reports it.
            closeWatch()
            return 1
        } catch {
            libraryWaitInterruption = error
            return -1
        }
    }

    /// Puts the name the certificate must carry where the library will check it.
    ///
    /// The library checks the certificate against the host it connected to (`mysql->host`),
    /// which is the address Weave resolved, not the name the user gave. It copies that host
    /// from the connect's argument once the server greeted; before that (a suspension with
    /// `mysql->host` still unset) the argument's contents are replaced. Inside the handshake
    /// (a wait in the hook) its copy is. A suspension after the copy is after the handshake:
    /// too late, and the connect is made again (`ServerNameNotPlaced`).
    func placeServerName(inHandshake: Bool) {
        guard let name = tlsServerName else { return }
        if let host = handle.pointee.host {
            guard inHandshake else { return }
            if String(cString: host) != name {
                guard let copy = strdup(name) else { return }
                // Allocated by the library with strdup, freed by mysql_close with free.
                free(host)
                handle.pointee.host = copy
            }
        } else {
            guard let argument = tlsHostArgument else { return }
            _ = name.withCString { strcpy(argument, $0) }
        }
        tlsServerName = nil
    }

    /// The connect's failure, with what a TLS failure means said plainly.
    func connectFailure(_ operation: String, tls: MySQLTLS?, serverName: String) -> MySQLError {
        let error = failure(operation)
        guard error.code == .tls, let tls else { return error }
        let cause: String
        if error.message.contains("Validation of SSL server certificate failed") {
            cause = "the server's certificate does not name '\(serverName)'"
        } else if error.message.contains("server does not support it") {
            cause = "the server does not offer TLS"
        } else if tls.verifiesServer, error.message.contains("certificate") || error.message.contains("issuer") {
            cause = "the server's certificate failed verification against \(tls.caFile ?? "the system's trusted authorities")"
        } else {
            return error
        }
        return MySQLError(.tls, number: error.number, sqlState: error.sqlState,
                          message: "\(cause) (\(error.message))", operation: operation)
    }
}

/// A verified TLS connect whose server name could not be placed before the handshake.
struct ServerNameNotPlaced: Error {}

/// The hook Connector/C calls where it would `poll` the socket itself (`MARIADB_OPT_IO_WAIT`):
/// it parks the coroutine whose connection is driving the library on this thread.
private let libraryWaitHook: @convention(c) (my_socket, my_bool, Int32) -> Int32 = { fd, isRead, timeout in
    guard let raw = pthread_getspecific(drivingConnectionKey) else {
        // Not inside one of our calls (none makes the library wait this way): wait as it would.
        var entry = pollfd(fd: fd, events: Int16(isRead != 0 ? POLLIN : POLLOUT), revents: 0)
        var status: Int32
        repeat { status = poll(&entry, 1, timeout > 0 ? timeout : -1) } while status < 0 && errno == EINTR
        return status
    }
    let connection = Unmanaged<MySQLConnection>.fromOpaque(raw).takeUnretainedValue()
    return connection.waitInsideLibrary(fd: fd, forReading: isRead != 0, timeoutMilliseconds: timeout)
}

/// The connection whose library call runs on this thread right now, for the wait hook (which
/// is given only the socket).
private let drivingConnectionKey: pthread_key_t = {
    var key = pthread_key_t()
    let status = pthread_key_create(&key, nil)
    precondition(status == 0, "pthread_key_create failed: \(status)")
    return key
}()
