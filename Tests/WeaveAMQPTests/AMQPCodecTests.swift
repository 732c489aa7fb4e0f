import Testing
import WeaveTLS
@testable import WeaveAMQP

@Suite("AMQP framing, field tables, properties and URLs")
struct AMQPCodecTests {
    @Test("Field tables round-trip every value type")
    func fieldTables() throws {
        let table: AMQPFieldTable = [
            "bool": true, "int8": .int8(-5), "uint8": .uint8(200), "int16": .int16(-300), "uint16": .uint16(60000),
            "int32": .int32(-70000), "uint32": .uint32(4_000_000_000), "int64": .int64(-1 << 40), "float": .float(1.5),
            "double": .double(-2.25), "decimal": .decimal(scale: 2, value: 12345), "string": "héllo",
            "bytes": .bytes([0xFF, 0x00, 0xFE]), "array": .array([1, "two", .void]), "timestamp": .timestamp(1_700_000_000),
            "table": .table(["nested": "yes"]), "void": .void,
        ]
        var encoder = AMQPFrameEncoder()
        encoder.writeTable(table)
        let decoded = try encoder.buffer.withUnsafeBytes { bytes in
            var decoder = AMQPFrameDecoder(bytes)
            let value = try decoder.readTable()
            #expect(decoder.remaining == 0)
            return value
        }
        #expect(decoded == table)
    }

    @Test("Message properties round-trip, absent ones stay absent")
    func properties() throws {
        for properties in [
            AMQPMessageProperties(),
            AMQPMessageProperties(contentType: "application/json", contentEncoding: "gzip", headers: ["k": "v"],
                                  deliveryMode: .persistent, priority: 5, correlationID: "c", replyTo: "r", expiration: "60000",
                                  messageID: "m", timestamp: 42, type: "t", userID: "guest", appID: "a"),
            AMQPMessageProperties(correlationID: "only"),
        ] {
            var encoder = AMQPFrameEncoder()
            properties.encode(into: &encoder)
            let decoded = try encoder.buffer.withUnsafeBytes { bytes in
                var decoder = AMQPFrameDecoder(bytes)
                return try AMQPMessageProperties(decoding: &decoder)
            }
            #expect(decoded == properties)
        }
    }

    @Test("Malformed input gives typed frame errors")
    func decodeErrors() throws {
        func decodeTable(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { raw in
                var decoder = AMQPFrameDecoder(raw)
                _ = try decoder.readTable()
            }
        }
        // A table claiming 10 bytes with 2 present.
        #expect { try decodeTable([0, 0, 0, 10, 1, 2]) } throws: { ($0 as? AMQPFrameError)?.code == .truncated }
        // A field of an unknown type octet 'Z'.
        #expect { try decodeTable([0, 0, 0, 3, 1, 0x61, 0x5A]) } throws: { ($0 as? AMQPFrameError)?.code == .unknownFieldType }
        // A method nobody sends to a client (basic.publish).
        #expect {
            try [0, 60, 0, 40].withUnsafeBytes { _ = try AMQPServerMethod.decode($0) }
        } throws: { ($0 as? AMQPFrameError)?.code == .unknownMethod }
    }

    @Test("Encoded frames split bodies at frame-max and end with 0xCE")
    func contentFrames() throws {
        var encoder = AMQPFrameEncoder()
        let body = [UInt8](repeating: 7, count: 10_000)
        body.withUnsafeBytes {
            encoder.content(channel: 3, classID: 60, body: $0, properties: AMQPMessageProperties(), maxBodyFrame: 4088)
        }
        // Header frame (7 + 14 + 1) then three body frames (4088, 4088, 1824).
        var offset = 0
        var bodyFrames: [Int] = []
        while offset < encoder.buffer.count {
            let type = encoder.buffer[offset]
            let size = Int(encoder.buffer[offset + 3]) << 24 | Int(encoder.buffer[offset + 4]) << 16
                | Int(encoder.buffer[offset + 5]) << 8 | Int(encoder.buffer[offset + 6])
            #expect(encoder.buffer[offset + 7 + size] == 0xCE)
            #expect(encoder.buffer[offset + 1] == 0 && encoder.buffer[offset + 2] == 3)
            if type == 3 { bodyFrames.append(size) }
            offset += size + 8
        }
        #expect(bodyFrames == [4088, 4088, 1824])
    }

    @Test("URLs: defaults, percent-decoding, IPv6, query items")
    func urls() throws {
        let plain = try AMQPConfiguration(url: "amqp://guest:guest@127.0.0.1:5672/")
        #expect(plain.host == "127.0.0.1" && plain.port == 5672 && plain.username == "guest" && plain.virtualHost == "/")
        let full = try AMQPConfiguration(url: "amqp://us%40er:p%3Ass@rabbit.example:5673/%2Fprod?heartbeat=10&frame_max=8192&channel_max=16")
        #expect(full.username == "us@er" && full.password == "p:ss" && full.host == "rabbit.example" && full.port == 5673)
        #expect(full.virtualHost == "/prod" && full.heartbeat == .seconds(10) && full.frameMax == 8192 && full.channelMax == 16)
        let bare = try AMQPConfiguration(url: "amqp://localhost")
        #expect(bare.host == "localhost" && bare.port == 5672 && bare.username == "guest" && bare.virtualHost == "/")
        let v6 = try AMQPConfiguration(url: "amqp://[::1]:5600/vh")
        #expect(v6.host == "::1" && v6.port == 5600 && v6.virtualHost == "vh")
        for bad in ["http://x/", "amqp//x", "amqp://h:0/", "amqp://h:99999/", "amqp://h:port/", "amqp://u:%zz@h/",
                    "amqp://h/a/b", "amqp://h/?heartbeat=x", "amqp://h/?bogus=1", "amqp://[::1/",
                    "amqp://h/?cacertfile=/ca.pem", "amqps://h/?verify=maybe", "amqps://h/?cacertfile="] {
            #expect(throws: AMQPError.self, "\(bad)") { _ = try AMQPConfiguration(url: bad) }
            do { _ = try AMQPConfiguration(url: bad) } catch let error as AMQPError { #expect(error.code == .invalidURL) }
        }
    }

    @Test("amqps URLs: port 5671 by default, TLS verifying the broker, its query items")
    func tlsURLs() throws {
        #expect(try AMQPConfiguration(url: "amqp://h/").tls == nil)
        let secure = try AMQPConfiguration(url: "amqps://rabbit.example/")
        #expect(secure.port == 5671 && secure.host == "rabbit.example")
        let tls = try #require(secure.tls)
        #expect(tls.role == .client && tls.certificateVerification == .fullVerification && tls.serverName == nil)
        let custom = try AMQPConfiguration(url: "amqps://h:5000/?cacertfile=%2Ftmp%2Fca.pem&server_name_indication=broker.example&heartbeat=5")
        #expect(custom.port == 5000 && custom.heartbeat == .seconds(5))
        #expect(custom.tls?.serverName == "broker.example" && custom.tls?.certificateVerification == .fullVerification)
        #expect(try AMQPConfiguration(url: "amqps://h/?verify=verify_none").tls?.certificateVerification == TLSConfiguration.CertificateVerification.none)
        // Hashable still: equal copies, and a configuration with other TLS differs.
        var copy = custom
        #expect(copy == custom)
        copy.tls = custom.tls
        #expect(copy != custom)
        copy.tls = nil
        var plain = custom
        plain.tls = nil
        #expect(copy == plain)
    }
}
