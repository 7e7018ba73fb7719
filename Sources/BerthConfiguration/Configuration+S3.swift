import BerthS3
import BerthUpstream
import Foundation
import Yams

/// `storage.s3`, named as registry:2's s3 driver names its keys. Read on its own by `berth storage
/// s3-check`; `berth serve` still refuses the section (RefusedKey) until the S3 driver lands.
public struct S3StorageSettings {
    public var client: S3Client.Configuration
    /// Key prefix of everything the registry stores, without leading or trailing `/` ("" for the bucket's top).
    public var rootDirectory: String
    /// Part size of multipart uploads (registry:2's default 10 MiB; S3's minimum 5 MiB).
    public var chunkSize: Int
    public static let defaultChunkSize = 10 << 20
    public static let minimumChunkSize = 5 << 20

    /// The object key of `path` (relative, no leading `/`) under the root directory.
    public func key(_ path: String) -> String {
        rootDirectory.isEmpty ? path : rootDirectory + "/" + path
    }
}

extension Configuration {
    /// `storage.s3` of the configuration file at `path`; throws `Invalid` naming the key at fault (and
    /// never the secret's value).
    public static func s3Storage(file path: String) throws -> S3StorageSettings {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Invalid(description: "\(path): cannot read the configuration file")
        }
        return try s3Storage(text: text, named: path)
    }

    public static func s3Storage(text: String, named file: String) throws -> S3StorageSettings {
        let document: Any?
        do {
            document = try Yams.load(yaml: text)
        } catch {
            throw Invalid(description: "\(file): not valid YAML: \(error)")
        }
        let storage = (document as? [String: Any])?.first { $0.key.lowercased() == "storage" }?.value as? [String: Any]
        guard let section = storage?.first(where: { $0.key.lowercased() == "s3" })?.value as? [String: Any] else {
            throw Invalid(description: "\(file): no storage.s3 section")
        }
        var values: [String: Any] = [:]
        for (name, value) in section { values[name.lowercased()] = value }
        func required(_ name: String) throws -> String {
            guard let value = values[name], let text = try? Self.text(value, "storage.s3.\(name)", file), !text.isEmpty else {
                throw Invalid(description: "\(file): storage.s3.\(name) is not set")
            }
            return text
        }
        func flag(_ name: String, default fallback: Bool) throws -> Bool {
            guard let value = values[name] else { return fallback }
            if let bool = value as? Bool { return bool }
            switch (value as? String)?.lowercased() {
            case "true": return true
            case "false": return false
            default: throw Invalid(description: "\(file): storage.s3.\(name): expected true or false")
            }
        }
        let region = try required("region")
        let bucket = try required("bucket")
        // registry:2 falls back to the environment's or the instance's AWS credentials without these; Berth
        // has no such chain yet, so it asks for them.
        let credentials = S3Credentials(accessKey: try required("accesskey"), secretKey: try required("secretkey"))
        let secure = try flag("secure", default: true)
        guard try flag("v4auth", default: true) else {
            throw Invalid(description: "\(file): storage.s3.v4auth: false asks for Signature V2, which Berth does not sign; "
                + "it signs with Signature V4 only (remove the key or set it to true)")
        }
        var endpointText = "s3.\(region).amazonaws.com"
        if let value = values["regionendpoint"] {
            endpointText = try Self.text(value, "storage.s3.regionendpoint", file)
        }
        if !endpointText.hasPrefix("http://") && !endpointText.hasPrefix("https://") {
            endpointText = (secure ? "https://" : "http://") + endpointText
        }
        guard let endpoint = UpstreamURL(endpointText), endpoint.username == nil else {
            throw Invalid(description: "\(file): storage.s3.regionendpoint: \(endpointText) is not a URL such as https://host:port")
        }
        var chunkSize = S3StorageSettings.defaultChunkSize
        if let value = values["chunksize"] {
            let size = try byteSize(value, "storage.s3.chunksize", file)
            guard size >= Int64(S3StorageSettings.minimumChunkSize), size <= 5 << 30 else {
                throw Invalid(description: "\(file): storage.s3.chunksize: \(size) is not from 5 MiB to 5 GiB, as S3's parts must be")
            }
            chunkSize = Int(size)
        }
        var root = ""
        if let value = values["rootdirectory"] {
            root = try Self.text(value, "storage.s3.rootdirectory", file)
            root = root.split(separator: "/").joined(separator: "/")
        }
        var client = S3Client.Configuration(endpoint: endpoint, region: region, bucket: bucket, credentials: credentials)
        client.endpoint.target = "/"
        return S3StorageSettings(client: client, rootDirectory: root, chunkSize: chunkSize)
    }
}
