import BerthHTTP
import BerthUpstream
import BerthStorage
import Foundation
import Glibc

/// Uber Kraken's generic blob API (`docs/ENDPOINTS.md`, origin `blobserver`), on the same upload state
/// machine and blob store as the registry API. Answers as Kraken's origin does: 200 on success, the bare
/// upload id in `Location`, 409 for a blob already in the namespace, plain-text errors; a namespace that
/// cannot be stored and an upload unknown to the namespace answer the spec's JSON error (`NAME_INVALID`,
/// `BLOB_UPLOAD_UNKNOWN`). Namespaces are isolated as repositories are: each sees only the blobs linked in
/// it and the uploads started in it, whatever else the store holds.
extension Registry {
    enum KrakenRoute {
        case startUpload(Namespace, Digest)
        case upload(Namespace, Digest, id: String)
        case blob(Namespace, Digest)

        var namespace: Namespace {
            switch self {
            case .startUpload(let namespace, _), .upload(let namespace, _, _), .blob(let namespace, _): return namespace
            }
        }
    }

    struct KrakenFailure: Error {
        let status: Int
        let message: String
    }

    /// `/namespace/<namespace>/blobs/<digest>[/uploads[/<uid>]]`; the namespace is one escaped component.
    static func parseKraken(_ path: Substring) throws -> KrakenRoute {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 5, parts[1] == "namespace", parts[3] == "blobs" else {
            throw KrakenFailure(status: 404, message: "no such endpoint: \(path)")
        }
        // Checked before anything is written: a name that cannot be a directory would fail only at the link,
        // once the blob is stored.
        guard let namespace = Namespace(percentDecode(parts[2])) else {
            throw RegistryError(.namespaceInvalid, "a namespace is 1 to 255 bytes once escaped (85 when every byte is punctuation), without control characters or bytes that are not UTF-8")
        }
        let digest = try krakenDigest(percentDecode(parts[4]))
        switch parts.count {
        case 5: return .blob(namespace, digest)
        case 6 where parts[5] == "uploads": return .startUpload(namespace, digest)
        case 7 where parts[5] == "uploads" && !parts[6].isEmpty: return .upload(namespace, digest, id: String(parts[6]))
        default: throw KrakenFailure(status: 404, message: "no such endpoint: \(path)")
        }
    }

    /// The namespace's backend: the first configured pattern that matches it; with none configured every
    /// namespace is local, and with some, a namespace none matches is unknown (Kraken answers 404 too).
    private func backend(for namespace: Namespace) throws -> KrakenNamespace.Backend {
        guard let krakenNamespaces else { return .local }
        guard let match = krakenNamespaces.first(where: { $0.matches(namespace) }) else {
            throw KrakenFailure(status: 404, message: "namespace \(namespace.value) matches no configured backend")
        }
        return match.backend
    }

    /// Kraken writes `sha256:<hex>`; the bare hex is accepted too.
    static func krakenDigest(_ text: String) throws -> Digest {
        if let digest = Digest(text), digest.isSHA256 { return digest }
        if let digest = Digest("sha256:" + text) { return digest }
        throw KrakenFailure(status: 400, message: "invalid digest \(text): expected sha256:<64 hex> or <64 hex>")
    }

    func handleKraken(_ exchange: HTTPExchange) {
        exchange.label = "kraken"
        do {
            let route = try Self.parseKraken(exchange.request.path)
            let backend = try backend(for: route.namespace)
            switch (route, exchange.request.method) {
            case (.startUpload(let namespace, let digest), .post):
                try krakenStart(namespace, digest, exchange)
            case (.upload(let namespace, let digest, let id), .patch):
                try krakenPatch(namespace, digest, id, exchange)
            case (.upload(let namespace, let digest, let id), .put):
                try krakenCommit(namespace, digest, id, backend, exchange)
            case (.blob(let namespace, let digest), .get), (.blob(let namespace, let digest), .head):
                try krakenDownload(namespace, digest, backend, exchange)
            default:
                throw KrakenFailure(status: 405, message: "\(exchange.request.method.name) not allowed on \(exchange.request.path)")
            }
        } catch {
            exchange.krakenFail(error)
        }
    }

    /// A blob stored for another namespace or repository is uploaded again: having its digest is not having
    /// access to it (the commit then only links it).
    private func krakenStart(_ namespace: Namespace, _ digest: Digest, _ exchange: HTTPExchange) throws {
        guard !isLinked(digest, in: .namespace(namespace)) else { throw KrakenFailure(status: 409, message: "blob \(digest) already exists") }
        let session = try store.createUpload(for: .namespace(namespace))
        session.release()
        exchange.respond(HTTPResponse(status: 200, headers: [("Location", session.id), ("Content-Type", "text/plain")]))
    }

    private func krakenSession(_ namespace: Namespace, _ id: String) throws -> UploadSession {
        do {
            return try store.openUpload(id, for: .namespace(namespace))
        } catch StorageError.notFound {
            // Uploads live in their namespace's directory: one started elsewhere is not found here.
            throw RegistryError(.blobUploadUnknown, "upload \(id) unknown to namespace \(namespace)")
        } catch StorageError.busy {
            throw KrakenFailure(status: 409, message: "upload \(id) is in use by another request")
        }
    }

    /// `Content-Range: <start>-<end>` or `<start>,<end>`: bytes [start, end) (see `ContentRange.kraken`).
    private func krakenPatch(_ namespace: Namespace, _ digest: Digest, _ id: String, _ exchange: HTTPExchange) throws {
        guard !isLinked(digest, in: .namespace(namespace)) else { throw KrakenFailure(status: 409, message: "blob \(digest) already exists") }
        let session = try krakenSession(namespace, id)
        guard let header = exchange.request.header("Content-Range") else {
            throw KrakenFailure(status: 400, message: "Content-Range <start>-<end> is required")
        }
        guard let (start, end) = ContentRange.kraken(header) else {
            throw KrakenFailure(status: 400, message: "Content-Range \(header) is not <start>-<end>")
        }
        let declared = exchange.request.contentLength ?? (exchange.request.isChunked ? nil : 0)
        switch session.machine.chunk(from: start, to: end, declaredLength: declared) {
        case .append:
            break
        case .reject(.rangeNotSatisfiable(let current)):
            throw KrakenFailure(status: 416, message: "chunk starts at \(start), the upload is at \(current)")
        case .reject(.lengthMismatch(let length, let declared)):
            throw KrakenFailure(status: 400, message: "body has \(declared) bytes, Content-Range \(header) needs \(length)")
        case .reject(.notReceiving), .commit, .discard:
            throw KrakenFailure(status: 409, message: "upload \(id) is not receiving")
        }
        guard end > start else {
            exchange.respond(HTTPResponse(status: 200))
            return
        }
        exchange.receiveBody(into: UploadBodyWriter(session: session, loop: loop, discardOnAbort: false, expectedLength: exchange.request.contentLength) { result in
            session.release()
            switch result {
            case .success(let session) where session.offset == end:
                exchange.respond(HTTPResponse(status: 200))
            case .success(let session):
                exchange.krakenFail(KrakenFailure(status: 400, message: "chunk ended at \(session.offset), Content-Range said \(end)"))
            case .failure(let error):
                exchange.krakenFail(error)
            }
        })
    }

    /// `PUT ...?through=<bool>`: the path's digest must match the bytes; a mismatch discards the upload.
    /// With `through=true` and a registry backend, the blob is pushed there before the answer; a failed push
    /// is a 502 and the blob stays committed here.
    private func krakenCommit(_ namespace: Namespace, _ digest: Digest, _ id: String, _ backend: KrakenNamespace.Backend,
                              _ exchange: HTTPExchange) throws {
        let session = try krakenSession(namespace, id)
        let through = QueryParameters(exchange.request.query)["through"].map { asciiEqualIgnoringCase($0, "true") } ?? false
        loop.offload({ () -> Error? in
            defer { session.release() }
            do { try session.commit(expected: digest); return nil } catch { return error }
        }, then: { [self] error in
            switch error {
            case nil:
                removeRetired()
                guard through, case .registry(let upstream, let repository) = backend else {
                    return exchange.respond(HTTPResponse(status: 200))
                }
                do {
                    let push = RegistryBlobPush(upstream: upstream, repository: try backendRepository(namespace, repository),
                                                digest: digest, store: store, loop: loop)
                    push.run { failure in
                        if let failure {
                            // The failure names the backend's address and what it answered: for the log.
                            Log.error("kraken: \(digest) in \(namespace) not written through to the backend: \(failure)")
                            exchange.krakenFail(KrakenFailure(status: 502, message: "committed locally, but not written through to the backend"))
                        } else {
                            exchange.respond(HTTPResponse(status: 200))
                        }
                    }
                } catch {
                    exchange.krakenFail(error)
                }
            case StorageError.digestMismatch(_, let computed)?:
                exchange.krakenFail(KrakenFailure(status: 400, message: "content has digest \(computed), not \(digest); upload discarded"))
            case let error?:
                exchange.krakenFail(error)
            }
        })
    }

    /// The backend repository of a namespace: configured, or the namespace itself when it is a valid name.
    func backendRepository(_ namespace: Namespace, _ configured: String?) throws -> String {
        let name = configured ?? namespace.value
        guard RepositoryName(name) != nil else {
            throw KrakenFailure(status: 500, message: "namespace \(namespace.value) is not a repository name: set `repository` for its backend")
        }
        return name
    }
}

extension HTTPExchange {
    /// Kraken's clients read plain-text error bodies; a code of the spec's table (a namespace or upload
    /// unknown here) is answered with its JSON body. Any other failure is logged and answered 500 (507 for
    /// a full disk) without its description, which names paths under the data root.
    func krakenFail(_ error: Error) {
        let failure: Registry.KrakenFailure
        switch error {
        case let error as Registry.KrakenFailure:
            failure = error
        case let error as RegistryError:
            return respond(error.response())
        default:
            let concealed = RegistryError.concealing(error, "\(request.method.name) \(request.path)")
            failure = Registry.KrakenFailure(status: concealed.status, message: concealed.detail ?? concealed.message)
        }
        respond(HTTPResponse(status: failure.status, headers: [("Content-Type", "text/plain; charset=utf-8")], text: failure.message + "\n"))
    }
}
