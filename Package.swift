// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Berth",
    products: [
        .executable(name: "berth", targets: ["berth"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CHTTPParser", providers: [.apt(["libhttp-parser-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // libxcrypt's crypt_r: bcrypt for auth.htpasswd.
        .systemLibrary(name: "CCrypt", providers: [.apt(["libcrypt-dev"])]),
        .target(name: "CBerthShims", dependencies: ["COpenSSL", "CLibUV"], linkerSettings: [.linkedLibrary("crypto")]),
        // TLS context setup shared by the server (BerthHTTP) and the upstream client (BerthUpstream).
        .target(name: "BerthTLS", dependencies: ["COpenSSL", "CBerthShims"]),
        // Registry tokens (docker's token spec): JWT parse, sign and verify, keys, trust; knows no HTTP.
        .target(name: "BerthJWT", dependencies: ["COpenSSL"]),
        .target(name: "BerthHTTP", dependencies: ["CLibUV", "CHTTPParser", "CBerthShims", "BerthTLS"]),
        .target(name: "BerthStorage", dependencies: ["CBerthShims"]),
        .target(name: "BerthSupervisor", dependencies: ["BerthHTTP", "CLibUV", "CBerthShims"]),
        .target(name: "BerthRegistry", dependencies: ["BerthHTTP", "BerthJWT", "BerthStorage", "BerthUpstream", "CCrypt", "CBerthShims"]),
        .target(name: "BerthUpstream", dependencies: ["BerthHTTP", "BerthTLS", "CLibUV", "COpenSSL", "CHTTPParser", "CBerthShims"]),
        // S3-compatible object storage: Signature V4 and an S3 client on BerthUpstream's HTTP client (issue 18).
        .target(name: "BerthS3", dependencies: ["BerthUpstream", "BerthHTTP", "COpenSSL", "CBerthShims"]),
        // The web UI under /ui/: pages rendered from Templates/*.mustache (resources, parsed once at start by its own renderer).
        .target(name: "BerthUI", dependencies: ["BerthRegistry", "BerthHTTP", "BerthStorage"],
                resources: [.copy("Templates"), .copy("Assets")]),
        // `berth bench`: a registry benchmark harness on one libuv loop, with its own lean HTTP/1.1 client.
        .target(name: "BerthBench", dependencies: ["BerthHTTP", "BerthStorage", "BerthUpstream", "CLibUV", "CHTTPParser", "CBerthShims",
                                                   .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .target(name: "BerthConfiguration", dependencies: [
            "BerthHTTP", "BerthJWT", "BerthTLS", "BerthRegistry", "BerthS3", "BerthStorage", "BerthUpstream", .product(name: "Yams", package: "Yams"),
        ]),
        .executableTarget(name: "berth", dependencies: [
            "BerthBench",
            "BerthConfiguration",
            "BerthRegistry",
            "BerthS3",
            "BerthSupervisor",
            "BerthTLS",
            "BerthUI",
            "CBerthShims",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Shared by the test targets: temporary directories, free ports, loop harnesses, a raw test client, peer processes.
        .target(name: "BerthTestSupport", dependencies: ["BerthHTTP", "CLibUV"], path: "Tests/BerthTestSupport"),
        .testTarget(name: "BerthHTTPTests", dependencies: ["BerthHTTP", "BerthTLS", "CBerthShims", "BerthTestSupport"]),
        .testTarget(name: "BerthStorageTests", dependencies: ["BerthStorage", "BerthTestSupport"]),
        .testTarget(name: "BerthRegistryTests", dependencies: ["BerthRegistry", "BerthTestSupport"]),
        .testTarget(name: "BerthUpstreamTests", dependencies: ["BerthUpstream", "BerthTestSupport"],
                    resources: [.copy("Resources/peer.py")]),
        .testTarget(name: "BerthSupervisorTests", dependencies: ["BerthSupervisor"]),
        .testTarget(name: "BerthTLSTests", dependencies: ["BerthTLS"]),
        .testTarget(name: "BerthJWTTests", dependencies: ["BerthJWT"]),
        .testTarget(name: "BerthUITests", dependencies: ["BerthUI", "BerthStorage"]),
        .testTarget(name: "BerthConfigurationTests", dependencies: ["BerthConfiguration"]),
        .testTarget(name: "BerthBenchTests", dependencies: ["BerthBench"]),
        .testTarget(name: "BerthS3Tests", dependencies: ["BerthS3"]),
    ],
    swiftLanguageModes: [.v5]
)

// `make fuzz` (and a short run in `make test`) builds the libFuzzer targets of Tests/fuzz: with
// BERTH_FUZZ set (`make fuzz-build`). Outside that
// build the target does not exist, since its entry point is libFuzzer's main.
if Context.environment["BERTH_FUZZ"] != nil {
    package.targets.append(.executableTarget(
        name: "berth-fuzz", dependencies: ["BerthHTTP", "BerthJWT", "BerthStorage", "BerthRegistry", "BerthUpstream", "BerthConfiguration", "BerthS3"],
        path: "Tests/fuzz/Sources", swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
}
