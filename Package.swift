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
        .target(name: "CBerthShims", dependencies: ["COpenSSL", "CLibUV"], linkerSettings: [.linkedLibrary("crypto")]),
        .target(name: "BerthHTTP", dependencies: ["CLibUV", "CHTTPParser", "CBerthShims"]),
        .target(name: "BerthStorage", dependencies: ["CBerthShims"]),
        .target(name: "BerthSupervisor", dependencies: ["BerthHTTP", "CLibUV", "CBerthShims"]),
        .target(name: "BerthRegistry", dependencies: ["BerthHTTP", "BerthStorage", "BerthUpstream"]),
        .target(name: "BerthUpstream", dependencies: ["BerthHTTP", "CLibUV", "COpenSSL", "CHTTPParser"]),
        .executableTarget(name: "berth", dependencies: [
            "BerthRegistry",
            "BerthUpstream",
            "BerthSupervisor",
            "CBerthShims",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .testTarget(name: "BerthHTTPTests", dependencies: ["BerthHTTP", "CBerthShims"]),
        .testTarget(name: "BerthStorageTests", dependencies: ["BerthStorage"]),
        .testTarget(name: "BerthRegistryTests", dependencies: ["BerthRegistry"]),
        .testTarget(name: "BerthUpstreamTests", dependencies: ["BerthUpstream"]),
        .testTarget(name: "BerthSupervisorTests", dependencies: ["BerthSupervisor"]),
    ],
    swiftLanguageModes: [.v5]
)

// `make fuzz` (and a short run in `make test`) builds the libFuzzer targets of Tests/fuzz: with
// BERTH_FUZZ set (`make fuzz-build`). Outside that
// build the target does not exist, since its entry point is libFuzzer's main. Its configuration target
// compiles berth's own configuration files, linked into Tests/fuzz/Sources.
if Context.environment["BERTH_FUZZ"] != nil {
    package.targets.append(.executableTarget(
        name: "berth-fuzz", dependencies: ["BerthHTTP", "BerthStorage", "BerthRegistry", "BerthUpstream",
                                           .product(name: "Yams", package: "Yams")],
        path: "Tests/fuzz/Sources", swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
}
