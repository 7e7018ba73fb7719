import BerthHTTP
import BerthMirror
import BerthStorage
import Foundation
import Glibc

/// Uber Kraken's generic blob API (`docs/ENDPOINTS.md`, origin `blobserver`), on the same upload state
/// machine and blob store as the registry API. Answers as Kraken's origin does: 200 on success, the bare
/// upload id in `Location`, 409 for a blob already stored, plain-text errors.
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
        guard let namespace = Namespace(percentDecode(parts[2])) else {
            throw KrakenFailure(status: 400, message: "invalid namespace")
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

    private func krakenStart(_ namespace: Namespace, _ digest: Digest, _ exchange: HTTPExchange) throws {
        guard store.blobSize(digest) == nil else { throw KrakenFailure(status: 409, message: "blob \(digest) already exists") }
        let session = try store.createUpload(for: .namespace(namespace))
        session.release()
        exchange.respond(HTTPResponse(status: 200, headers: [("Location", session.id), ("Content-Type", "text/plain")]))
    }

    private func krakenSession(_ namespace: Namespace, _ id: String) throws -> UploadSession {
        do {
            return try store.openUpload(id, for: .namespace(namespace))
        } catch StorageError.notFound {
            throw KrakenFailure(status: 404, message: "upload \(id) not found")
        } catch StorageError.busy {
            throw KrakenFailure(status: 409, message: "upload \(id) is in use by another request")
        }
    }

    /// `Content-Range: <start>-<end>` or `<start>,<end>`: bytes [start, end) (see `ContentRange.kraken`).
    private func krakenPatch(_ namespace: Namespace, _ digest: Digest, _ id: String, _ exchange: HTTPExchange) throws {
        guard store.blobSize(digest) == nil else { throw KrakenFailure(status: 409, message: "blob \(digest) already exists") }
        let session = try krakenSession(namespace, id)
        guard let header = exchange.request.header("Content-Range") else {
            throw KrakenFailure(status: 400, message: "Content-Range <start>-<end> is required")
        }
        guard let (start, end) = ContentRange.kraken(header) else {
            throw KrakenFailure(status: 400, message: "Content-Range \(header) is not <start>-<end>")
        }
        let declared = exchange.request.contentLength ?? (exchange.request.isChunked ? nil : 0)
        if let declared, declared != end - start {
            throw KrakenFailure(status: 400, message: "body has \(declared) bytes, Content-Range \(header) needs \(end - start)")
        }
        guard start == session.offset else {
            throw KrakenFailure(status: 416, message: "chunk starts at \(start), the upload is at \(session.offset)")
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
        let through = QueryParameters(exchange.request.query)["through"]?.lowercased() == "true"
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
                            exchange.krakenFail(KrakenFailure(status: 502, message: "committed locally, but not written through to the backend: \(failure)"))
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
    private func backendRepository(_ namespace: Namespace, _ configured: String?) throws -> String {
        let name = configured ?? namespace.value
        guard RepositoryName(name) != nil else {
            throw KrakenFailure(status: 500, message: "namespace \(namespace.value) is not a repository name: set `repository` for its backend")
        }
        return name
    }

    /// `GET`/`HEAD`: the local blob, else (registry backend) the one download of it from the backend, streamed.
    private func krakenDownload(_ namespace: Namespace, _ digest: Digest, _ backend: KrakenNamespace.Backend,
                                _ exchange: HTTPExchange) throws {
        if let (file, size) = openBlobs.open(digest, in: store) {
            return exchange.respond(HTTPResponse(status: 200, headers: [("Content-Type", "application/octet-stream")],
                                                 body: .file(file, size: size)))
        }
        guard case .registry(let upstream, let configured) = backend else {
            throw KrakenFailure(status: 404, message: "blob \(digest) not found")
        }
        let repository = try backendRepository(namespace, configured)
        fetchFromBackend(digest, upstream, repository, namespace, exchange, retries: 1)
    }

    private func fetchFromBackend(_ digest: Digest, _ upstream: RegistryUpstream, _ repository: String, _ namespace: Namespace,
                                  _ exchange: HTTPExchange, retries: Int) {
        let download: BlobDownload
        do {
            download = try downloads.download(digest, from: upstream, repository: repository, linkTo: .namespace(namespace),
                                              store: store, metrics: metrics)
        } catch {
            return exchange.krakenFail(error)
        }
        let limit = options.krakenFetchTimeoutSeconds
        var timer: RepeatingTimer?
        timer = loop.repeating(every: UInt64(limit * 1000)) {
            timer?.stop()
            timer = nil
            exchange.krakenFail(KrakenFailure(status: 504, message: "the backend did not start sending \(digest) within \(Int(limit)) s"))
        }
        download.whenSized { [self] readiness in
            timer?.stop()
            timer = nil
            guard exchange.isOpen else { return }
            switch readiness {
            case .failed(let error):
                exchange.krakenFail(KrakenFailure(status: error.status, message: error.detail ?? error.message))
            case .retry where retries > 0:
                fetchFromBackend(digest, upstream, repository, namespace, exchange, retries: retries - 1)
            case .retry:
                exchange.krakenFail(KrakenFailure(status: 503, message: "the download of \(digest) failed in another worker"))
            case .ready:
                guard let size = download.size, let file = download.openForReading() else {
                    return exchange.krakenFail(KrakenFailure(status: 503, message: "blob \(digest) vanished while it was served"))
                }
                let body: HTTPResponse.Body = download.isComplete
                    ? .file(file, size: size)
                    : .growingFile(file, size: size, progress: download)
                exchange.respond(HTTPResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: body))
            }
        }
    }
}

extension HTTPExchange {
    /// Kraken's clients read plain-text error bodies.
    func krakenFail(_ error: Error) {
        switch error {
        case let failure as Registry.KrakenFailure:
            respond(HTTPResponse(status: failure.status, headers: [("Content-Type", "text/plain; charset=utf-8")], text: failure.message + "\n"))
        case let error as StorageError where error.isOutOfSpace:
            Log.error("storage full: \(error)")
            respond(HTTPResponse(status: 507, headers: [("Content-Type", "text/plain; charset=utf-8")], text: "storage full\n"))
        default:
            Log.error("\(request.method.name) \(request.target): \(error)")
            respond(HTTPResponse(status: 500, headers: [("Content-Type", "text/plain; charset=utf-8")], text: "\(error)\n"))
        }
    }
}
