import BerthHTTP
import BerthStorage
import Foundation

extension Registry {
    /// `GET /v2/<name>/referrers/<digest>` (OCI dist-spec v1.1 "Listing Referrers"): an image index of the
    /// manifests whose `subject` is `<digest>`, optionally filtered by `artifactType`. Never 404.
    func listReferrers(_ name: RepositoryName, _ reference: String, _ exchange: HTTPExchange) {
        guard let subject = Digest(reference) else {
            exchange.fail(RegistryError(.digestInvalid, "invalid digest: \(reference)"))
            return
        }
        let filter = QueryParameters(exchange.request.query)["artifactType"].flatMap { $0.isEmpty ? nil : $0 }
        onPool(exchange, { [store, options] () -> [[String: Any]] in
            store.referrers(of: subject, in: name).compactMap { digest in
                guard let bytes = try? store.readBlob(digest, limit: options.maxManifestBytes) else { return nil }
                return ReferrerDescriptor.make(digest: digest, manifest: bytes)
            }
        }) { descriptors in
            let selected = filter.map { type in descriptors.filter { $0["artifactType"] as? String == type } } ?? descriptors
            let index: [String: Any] = [
                "schemaVersion": 2,
                "mediaType": ManifestMediaType.ociIndex,
                "manifests": selected,
            ]
            var headers: [(name: String, value: String)] = [("Content-Type", ManifestMediaType.ociIndex)]
            if filter != nil { headers.append(("OCI-Filters-Applied", "artifactType")) }
            let body = (try? JSONSerialization.data(withJSONObject: index, options: [.sortedKeys])) ?? Data("{}".utf8)
            exchange.respond(HTTPResponse(status: 200, headers: headers, body: .bytes(Array(body))))
        }
    }
}

/// The descriptor of one referrer as the referrers index lists it.
enum ReferrerDescriptor {
    static func make(digest: Digest, manifest bytes: [UInt8]) -> [String: Any]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return nil }
        var descriptor: [String: Any] = [
            "mediaType": (object["mediaType"] as? String) ?? ManifestMediaType.detect(bytes),
            "digest": digest.description,
            "size": bytes.count,
        ]
        // OCI image-spec: artifactType, else the config's media type.
        let config = object["config"] as? [String: Any]
        if let type = (object["artifactType"] as? String) ?? (config?["mediaType"] as? String) {
            descriptor["artifactType"] = type
        }
        if let annotations = object["annotations"] as? [String: Any], !annotations.isEmpty {
            descriptor["annotations"] = annotations
        }
        return descriptor
    }

    /// The subject a stored manifest names, if any.
    static func subject(of bytes: [UInt8]) -> Digest? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let subject = object["subject"] as? [String: Any], let text = subject["digest"] as? String else { return nil }
        return Digest(text)
    }
}
