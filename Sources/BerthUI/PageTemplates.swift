import Foundation

/// The UI's templates and static files, read once at start from the resource bundle SwiftPM builds next to
/// the binary (`Berth_BerthUI.resources/`, found from `/proc/self/exe`, so `make run`, a test or a copied
/// binary with its bundle all find it, wherever they start). Rendering is pure and runs on the pool.
public struct PageTemplates: Sendable {
    public struct Missing: Error, CustomStringConvertible {
        public let searched: [String]
        public var description: String {
            "the web UI's templates are not installed beside the binary (looked in \(searched.joined(separator: ", "))); copy Berth_BerthUI.resources with it, or set ui.enabled: false"
        }
    }

    let library: [String: PageTemplate]
    let assets: [String: StaticAsset]

    static let bundleName = "Berth_BerthUI.resources"

    public static func load() throws -> PageTemplates {
        let candidates = Self.bundleCandidates()
        guard let bundle = candidates.first(where: { FileManager.default.fileExists(atPath: $0 + "/Templates/layout.mustache") }) else {
            throw Missing(searched: candidates)
        }
        return try PageTemplates(directory: bundle)
    }

    init(directory: String) throws {
        var library: [String: PageTemplate] = [:]
        let templates = directory + "/Templates"
        for file in try FileManager.default.contentsOfDirectory(atPath: templates) where file.hasSuffix(".mustache") {
            let text = try String(contentsOfFile: templates + "/" + file, encoding: .utf8)
            let name = String(file.dropLast(".mustache".count))
            library[name] = try PageTemplate(text, named: name)
        }
        for (name, template) in library {
            for parent in template.parents where library[parent] == nil {
                throw PageTemplate.SyntaxError(template: name, problem: "no template \(parent)")
            }
        }
        self.library = library
        var assets: [String: StaticAsset] = [:]
        let assetDirectory = directory + "/Assets"
        for file in try FileManager.default.contentsOfDirectory(atPath: assetDirectory) {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: assetDirectory + "/" + file)))
            assets[file] = StaticAsset(name: file, bytes: bytes)
        }
        self.assets = assets
    }

    /// The bundle beside the executable, as the kernel names it; then beside the path it was started by.
    static func bundleCandidates() -> [String] {
        var candidates: [String] = []
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append((executable as NSString).deletingLastPathComponent + "/" + bundleName)
        }
        for argument in CommandLine.arguments.prefix(1) where argument.contains("/") {
            let candidate = (argument as NSString).deletingLastPathComponent + "/" + bundleName
            if !candidates.contains(candidate) { candidates.append(candidate) }
        }
        return candidates
    }

    /// The page's HTML (a missing template is a programming error the tests catch: it renders a line saying so).
    func render(_ template: String, _ fields: PageFields) -> [UInt8] {
        guard let page = library[template] else { return Array("template \(template) missing".utf8) }
        var renderer = PageRenderer(library: library)
        renderer.render(page, fields)
        return renderer.out
    }
}

/// A static file of the UI with its validator: an ETag from its bytes (FNV-1a, enough to tell versions apart).
struct StaticAsset: Sendable {
    let name: String
    let bytes: [UInt8]
    let etag: String

    init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        etag = "\"" + String(hash, radix: 16) + "\""
    }

    var contentType: String {
        if name.hasSuffix(".css") { return "text/css; charset=utf-8" }
        if name.hasSuffix(".js") { return "text/javascript; charset=utf-8" }
        if name.hasSuffix(".png") { return "image/png" }
        if name.hasSuffix(".svg") { return "image/svg+xml" }
        return "application/octet-stream"
    }
}
