import BerthJWT
import BerthRegistry
import Foundation

/// registry:2's `auth.token`: realm, service, issuer and rootcertbundle are all needed (registry:2 refuses to start
/// without any of them); `autoredirect` points the realm at `/auth/token` on the host the client reached.
extension Configuration {
    var tokenKeysSet: Bool {
        tokenRealm != nil || tokenService != nil || tokenIssuer != nil || tokenRootCertBundle != nil || tokenAutoRedirect
    }

    /// Reads the bundle into `tokenTrust`; the refusals name the key (and the file) that is wrong.
    mutating func loadTokenTrust(origin: String) -> [String] {
        guard tokenKeysSet else { return [] }
        var refusals: [String] = []
        if htpasswdRealm != nil || htpasswdPath != nil {
            refusals.append("\(origin): auth.htpasswd and auth.token are both set: registry:2 takes exactly one auth scheme; keep one")
        }
        let missing = [("auth.token.realm", tokenRealm), ("auth.token.service", tokenService), ("auth.token.issuer", tokenIssuer),
                       ("auth.token.rootcertbundle", tokenRootCertBundle)].filter { $0.1?.isEmpty ?? true }.map(\.0)
        if !missing.isEmpty {
            refusals.append("\(origin): \(missing.joined(separator: ", ")) not set: auth.token needs realm, service, issuer and rootcertbundle, as in registry:2")
        }
        if let path = tokenRootCertBundle, !path.isEmpty {
            guard let bytes = FileManager.default.contents(atPath: path) else {
                return refusals + ["\(origin): auth.token.rootcertbundle \(path): cannot be read"]
            }
            do {
                tokenTrust = try TokenTrust(rootCertificateBundlePEM: String(decoding: bytes, as: UTF8.self))
            } catch {
                refusals.append("\(origin): auth.token.rootcertbundle \(path): \(error)")
            }
        }
        return refusals
    }

    /// Set when `load` accepted the token keys and read the bundle.
    public var tokenAuthOptions: TokenAuthOptions? {
        guard let tokenTrust, let tokenRealm, let tokenService, let tokenIssuer else { return nil }
        return TokenAuthOptions(realm: tokenAutoRedirect ? .sameHost(path: "/auth/token") : .fixed(tokenRealm),
                                service: tokenService, issuer: tokenIssuer, trust: tokenTrust)
    }
}
