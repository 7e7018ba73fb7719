import BerthHTTP
import BerthStorage

extension Registry {
    /// `POST /v2/<name>/blobs/uploads/`: a resumable upload, a monolithic one (`?digest=`) or a mount (`?mount=&from=`).
    func startUpload(_ name: RepositoryName, _ exchange: HTTPExchange) {
        let query = QueryParameters(exchange.request.query)
        if let mount = query["mount"], let digest = Digest(mount), mountBlob(digest, from: query["from"], into: name, query, exchange) {
            return
        }
        startUpload(name, query, exchange)
    }

    private func startUpload(_ name: RepositoryName, _ query: QueryParameters, _ exchange: HTTPExchange) {
        var expected: Digest?
        if let text = query["digest"] {
            guard let digest = Digest(text), digest.isSHA256 else {
                exchange.fail(RegistryError(.digestInvalid, "invalid or unsupported digest: \(text)"))
                return
            }
            expected = digest
        }
        let session: UploadSession
        do {
            session = try store.createUpload(in: name)
        } catch {
            exchange.fail(error)
            return
        }
        guard let expected else {
            session.release()
            exchange.respond(HTTPResponse(status: 202, headers: uploadHeaders(session)))
            return
        }
        receive(into: session, exchange, cancelOnFailure: true) { [self] session in
            commit(session, expected: expected, exchange, cancelOnFailure: true)
        }
    }

    /// OCI dist-spec "Mounting a blob from another repository"; without `from`, any stored blob may be mounted.
    private func mountBlob(_ digest: Digest, from source: String?, into name: RepositoryName, _ query: QueryParameters,
                           _ exchange: HTTPExchange) -> Bool {
        let available: Bool
        if let source {
            guard let sourceName = RepositoryName(source) else { return false }
            available = store.isLayerLinked(digest, in: sourceName)
        } else {
            available = store.blobSize(digest) != nil
        }
        guard available else { return false }
        // The blob itself is looked at again under its lock: a link may outlive its blob, and a sweep may be removing it.
        onPool(exchange, { [store] in try store.referencing([digest]) { try store.linkLayer(digest, in: name) } }) { [self] missing in
            guard missing == nil else { return startUpload(name, query, exchange) }
            exchange.respond(HTTPResponse(status: 201, headers: blobCreatedHeaders(name, digest)))
        }
        return true
    }

    /// `PATCH /v2/<name>/blobs/uploads/<id>`: a chunk at the current offset, streamed to disk.
    func patchUpload(_ name: RepositoryName, _ id: String, _ exchange: HTTPExchange) {
        guard let session = openSession(name, id, exchange), accept(chunkOf: exchange, into: session) else { return }
        receive(into: session, exchange) { [self] session in
            session.release()
            exchange.respond(HTTPResponse(status: 202, headers: uploadHeaders(session)))
        }
    }

    /// `PUT /v2/<name>/blobs/uploads/<id>?digest=`: an optional last chunk, then verify and move into place.
    func completeUpload(_ name: RepositoryName, _ id: String, _ exchange: HTTPExchange) {
        let query = QueryParameters(exchange.request.query)
        guard let text = query["digest"], let expected = Digest(text), expected.isSHA256 else {
            exchange.fail(RegistryError(.digestInvalid, "PUT needs ?digest=sha256:<hex>, got \(query["digest"] ?? "none")"))
            return
        }
        guard let session = openSession(name, id, exchange), accept(chunkOf: exchange, into: session) else { return }
        receive(into: session, exchange) { [self] session in
            commit(session, expected: expected, exchange, cancelOnFailure: false)
        }
    }

    /// `GET /v2/<name>/blobs/uploads/<id>`: where the upload stands.
    func uploadStatus(_ name: RepositoryName, _ id: String, _ exchange: HTTPExchange) {
        guard let session = openSession(name, id, exchange, exclusive: false) else { return }
        session.release()
        exchange.respond(HTTPResponse(status: 204, headers: uploadHeaders(session)))
    }

    /// `DELETE /v2/<name>/blobs/uploads/<id>`: cancel.
    func cancelUpload(_ name: RepositoryName, _ id: String, _ exchange: HTTPExchange) {
        guard let session = openSession(name, id, exchange) else { return }
        onPool(exchange, { session.cancel(); session.release() }) {
            exchange.respond(HTTPResponse(status: 204))
        }
    }

    // MARK: Steps

    private func openSession(_ name: RepositoryName, _ id: String, _ exchange: HTTPExchange, exclusive: Bool = true) -> UploadSession? {
        do {
            return try store.openUpload(id, in: name, exclusive: exclusive)
        } catch StorageError.notFound {
            exchange.fail(RegistryError(.blobUploadUnknown, "upload \(id) unknown to repository \(name)"))
        } catch StorageError.busy {
            exchange.fail(RegistryError(.blobUploadInUse, "upload \(id) is in use by another request; retry when it is done"))
        } catch {
            exchange.fail(error)
        }
        return nil
    }

    /// Checks `Content-Range` (`<first>-<last>`, inclusive) against the upload's offset.
    private func accept(chunkOf exchange: HTTPExchange, into session: UploadSession) -> Bool {
        var range: ClosedRange<Int64>?
        if let header = exchange.request.header("Content-Range") {
            guard let parsed = ContentRange.chunk(header) else {
                session.release()
                exchange.fail(RegistryError(.rangeInvalid, "Content-Range \(header) is not <first>-<last>"), headers: uploadHeaders(session))
                return false
            }
            range = parsed
        }
        let action = session.chunk(range: range, declaredLength: exchange.request.contentLength)
        if case .append = action { return true }
        session.release()
        switch action {
        case .append:
            return true
        case .reject(.rangeNotSatisfiable(let current)):
            exchange.fail(RegistryError(.rangeInvalid, "chunk must start at offset \(current)"), headers: uploadHeaders(session))
        case .reject(.lengthMismatch(let rangeLength, let declared)):
            exchange.fail(RegistryError(.sizeInvalid, "Content-Range covers \(rangeLength) bytes, Content-Length says \(declared)"))
        default:
            exchange.fail(RegistryError(.blobUploadInvalid, "upload \(session.id) is not receiving"))
        }
        return false
    }

    /// Streams the body, if any, into the session, then calls `next` on the loop.
    /// A monolithic upload (`cancelOnFailure`) has no later request to resume it, so a failed body removes it.
    private func receive(into session: UploadSession, _ exchange: HTTPExchange, cancelOnFailure: Bool = false,
                         next: @escaping (UploadSession) -> Void) {
        guard exchange.request.hasBody else {
            next(session)
            return
        }
        exchange.receiveBody(into: UploadBodyWriter(session: session, loop: loop, discardOnAbort: cancelOnFailure,
                                                                    expectedLength: exchange.request.contentLength) { [self] result in
            switch result {
            case .success(let session):
                next(session)
            case .failure(let error):
                if cancelOnFailure {
                    loop.offload({ session.cancel(); session.release() }, then: {})
                    exchange.fail(error)
                } else {
                    session.release()
                    // The client resumes from here (a full disk's 507 too): the offset of the last checkpoint.
                    exchange.fail(error, headers: uploadHeaders(session, offset: session.resumableOffset))
                }
            }
        })
    }

    private func commit(_ session: UploadSession, expected: Digest, _ exchange: HTTPExchange, cancelOnFailure: Bool) {
        loop.offload({ () -> Error? in
            defer { session.release() }
            do { try session.commit(expected: expected); return nil } catch {
                if cancelOnFailure { session.cancel() }
                return error
            }
        }, then: { [self] error in
            switch error {
            case nil:
                if case .repository(let name) = session.owner {
                    exchange.respond(HTTPResponse(status: 201, headers: blobCreatedHeaders(name, expected)))
                }
                removeRetired()
            case StorageError.digestMismatch(let expected, let computed)?:
                exchange.fail(RegistryError(.digestInvalid, "content has digest \(computed), not \(expected)"))
            case let error?:
                exchange.fail(error)
            }
        })
    }

    func uploadHeaders(_ session: UploadSession, offset: Int64? = nil) -> [(name: String, value: String)] {
        // registry:2 reports 0-0 for an empty upload; the range is inclusive otherwise.
        let last = max((offset ?? session.offset) - 1, 0)
        return [
            ("Location", "/v2/\(session.owner)/blobs/uploads/\(session.id)"),
            ("Range", "0-\(last)"),
            ("Docker-Upload-UUID", session.id),
        ]
    }

    func blobCreatedHeaders(_ name: RepositoryName, _ digest: Digest) -> [(name: String, value: String)] {
        [("Location", "/v2/\(name)/blobs/\(digest)"), ("Docker-Content-Digest", digest.description)]
    }
}
