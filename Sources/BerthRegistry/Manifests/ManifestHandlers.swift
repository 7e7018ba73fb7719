import BerthHTTP
import BerthStorage

extension Registry {
    enum ManifestReference {
        case tag(Tag)
        case digest(Digest)
    }

    func parseReference(_ text: String) throws -> ManifestReference {
        if text.utf8.contains(UInt8(ascii: ":")) {
            guard let digest = Digest(text) else { throw RegistryError(.digestInvalid, "invalid digest: \(text)") }
            return .digest(digest)
        }
        guard let tag = Tag(text) else { throw RegistryError(.manifestUnknown, "invalid tag: \(text)") }
        return .tag(tag)
    }

    /// `GET`/`HEAD /v2/<name>/manifests/<reference>`: the stored bytes, byte for byte, with their media type.
    func getManifest(_ name: RepositoryName, _ text: String, _ exchange: HTTPExchange) {
        do {
            let entry = try manifestCache.lookup(name, text, in: store, now: loop.now) ?? loadManifest(name, text)
            // Compared where the head holds it: no String of the field on a GET that sends one.
            if exchange.request.withHeaderBytes("If-None-Match", { $0.elementsEqual(entry.etag.utf8) }) == true {
                exchange.respond(HTTPResponse(status: 304, headers: [("Docker-Content-Digest", entry.digestText), ("ETag", entry.etag)]))
                return
            }
            // Content-Type, Docker-Content-Digest and ETag, in that order, serialized when the entry was made.
            exchange.respond(HTTPResponse(status: 200, serializedHeaders: entry.serializedHeaders, body: .bytes(entry.bytes)))
        } catch StorageError.notFound {
            exchange.fail(RegistryError(.manifestUnknown, "manifest \(text) has no content in the blob store"))
        } catch {
            exchange.fail(error)
        }
    }

    /// Reads a manifest through its links and remembers it under the identity of the link it came by.
    private func loadManifest(_ name: RepositoryName, _ referenceText: String) throws -> ManifestCache.Entry {
        let reference = try parseReference(referenceText)
        let link: StoragePath
        switch reference {
        case .tag(let tag): link = .tagCurrentLink(name, tag)
        case .digest(let digest): link = .manifestRevisionLink(name, digest)
        }
        let linkPath = store.path(link)
        // Read before the link: a change from now on moves the counter past what the entry remembers.
        let check = LinkCheck(changes: store.changes.value, checkedAt: loop.now)
        guard let identity = store.identity(atPath: linkPath) else {
            throw RegistryError(.manifestUnknown, "manifest \(referenceText) unknown in repository \(name)")
        }
        let digest: Digest
        let text: String
        switch reference {
        case .tag(let tag):
            guard let resolved = store.resolveTag(tag, in: name) else {
                throw RegistryError(.manifestUnknown, "tag \(tag) unknown in repository \(name)")
            }
            digest = resolved
            text = tag.value
        case .digest(let requested):
            digest = requested
            text = requested.description
        }
        guard store.isManifestLinked(digest, in: name) else {
            throw RegistryError(.manifestUnknown, "manifest \(digest) unknown in repository \(name)")
        }
        let bytes = try store.readBlob(digest, limit: options.maxManifestBytes * 4)
        let entry = ManifestCache.Entry(linkPath: linkPath, identity: identity, check: check, digest: digest, mediaType: ManifestMediaType.detect(bytes), bytes: bytes)
        manifestCache.store(entry, name, text)
        return entry
    }

    /// `PUT /v2/<name>/manifests/<reference>`: verify references, store, link, tag.
    func putManifest(_ name: RepositoryName, _ text: String, _ exchange: HTTPExchange) {
        let reference: ManifestReference
        do { reference = try parseReference(text) } catch { exchange.fail(error); return }
        let limit = options.maxManifestBytes
        exchange.collectBody(limit: limit) { [self] body in
            guard let body else {
                exchange.fail(RegistryError(.manifestTooLarge, "manifest larger than \(limit) bytes"))
                return
            }
            do {
                let digest = Digest.sha256(of: body)
                if case .digest(let requested) = reference, requested != digest {
                    throw RegistryError(.digestInvalid, "manifest has digest \(digest), not \(requested)")
                }
                let manifest = try ManifestDescription(body, contentType: exchange.request.header("Content-Type"))
                if let missing = manifest.blobs.first(where: { !store.isLayerLinked($0, in: name) }) {
                    throw RegistryError(.manifestBlobUnknown, "blob \(missing) unknown to repository \(name)")
                }
                if let missing = manifest.manifests.first(where: { !store.isManifestLinked($0, in: name) }) {
                    throw RegistryError(.manifestBlobUnknown, "manifest \(missing) unknown to repository \(name)")
                }
                var headers: [(name: String, value: String)] = [
                    ("Location", "/v2/\(name)/manifests/\(digest)"),
                    ("Docker-Content-Digest", digest.description),
                ]
                if let subject = manifest.subject { headers.append(("OCI-Subject", subject.description)) }
                onPool(exchange, { [store] in
                    // The blobs themselves, not only the links: garbage collection removes a blob's data and may
                    // leave a link behind. No sweep removes them, nor the manifest's own, during the write.
                    let missing = try store.referencing(manifest.blobs + manifest.manifests, storing: digest) {
                        try store.storeBlob(body, digest: digest)
                        try store.linkManifest(digest, in: name)
                        if let subject = manifest.subject { try store.linkReferrer(digest, to: subject, in: name) }
                        if case .tag(let tag) = reference { try store.setTag(tag, to: digest, in: name) }
                    }
                    if let missing { throw RegistryError(.manifestBlobUnknown, "blob \(missing) is not stored") }
                }) {
                    exchange.respond(HTTPResponse(status: 201, headers: headers))
                }
            } catch {
                exchange.fail(error)
            }
        }
    }

    /// `DELETE /v2/<name>/manifests/<reference>`: by digest, the revision and every tag on it; by tag, the tag alone.
    func deleteManifest(_ name: RepositoryName, _ text: String, _ exchange: HTTPExchange) {
        removeManifest(name, text) { result in
            switch result {
            case .success: exchange.respond(HTTPResponse(status: 202))
            case .failure(let error): exchange.fail(error)
            }
        }
    }

    /// `DELETE /v2/<name>/manifests/<reference>`'s work, shared with the web UI's delete: a tag alone, or a
    /// revision with every tag on it; the store's work on the pool, the outcome on the loop.
    func removeManifest(_ name: RepositoryName, _ text: String, _ completion: @escaping (Result<Void, Error>) -> Void) {
        guard options.deleteEnabled else {
            return completion(.failure(RegistryError(.unsupported, "deletion is disabled (storage.delete.enabled)")))
        }
        do {
            switch try parseReference(text) {
            case .tag(let tag):
                guard store.resolveTag(tag, in: name) != nil else {
                    throw RegistryError(.manifestUnknown, "tag \(tag) unknown in repository \(name)")
                }
                loop.offload({ [store] in Result { try store.deleteTag(tag, in: name) } }, then: completion)
            case .digest(let digest):
                guard store.isManifestLinked(digest, in: name) else {
                    throw RegistryError(.manifestUnknown, "manifest \(digest) unknown in repository \(name)")
                }
                loop.offload({ [store, options] in
                    Result {
                        try store.deleteManifest(digest, in: name)
                        if let bytes = try? store.readBlob(digest, limit: options.maxManifestBytes),
                           let subject = ReferrerDescriptor.subject(of: bytes) {
                            store.unlinkReferrer(digest, from: subject, in: name)
                        }
                    }
                }, then: completion)
            }
        } catch {
            completion(.failure(error))
        }
    }
}
