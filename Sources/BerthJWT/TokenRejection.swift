/// Why a token is not accepted. The description names the claim or check that failed and is safe to send to
/// the client (no key material, no paths).
public struct TokenRejection: Error, CustomStringConvertible, Equatable {
    public enum Reason: Equatable, Sendable {
        /// Not three base64url parts of JSON, a claim of the wrong type, a bound passed.
        case malformed
        case unsupportedAlgorithm
        /// No key the trust knows, or an x5c chain that does not verify.
        case untrustedKey
        case badSignature
        case wrongIssuer
        case wrongAudience
        case expired
        case notYetValid
    }

    public let reason: Reason
    public let description: String

    public init(_ reason: Reason, _ description: String) {
        self.reason = reason
        self.description = description
    }
}
