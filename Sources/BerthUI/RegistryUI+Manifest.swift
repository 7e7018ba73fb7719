import BerthHTTP
import BerthRegistry
import BerthStorage

extension RegistryUI {
    /// A manifest by tag or digest: its facts, the pull lines, an index's children with their platforms, an
    /// image's config (how it runs, labels, history) and layers, annotations, the subject it refers to and the
    /// manifests that refer to it. Everything is read and rendered on the pool.
    func manifestPage(_ name: RepositoryName, _ reference: String, _ exchange: HTTPExchange) {
        var context = baseContext(exchange, title: "\(name.value):\(reference)")
        let reader = self.reader, paths = self.paths, deletes = registry.deletesEnabled
        let host = self.host(exchange), plainHTTP = options.plainHTTP
        loop.offload({ reader.resolve(reference, in: name) }, then: { [self] found in
            guard let (digest, bytes) = found, let document = ManifestDocument(bytes) else {
                return respondError(exchange, status: 404, heading: "No such manifest", message: "\(name.value) has no manifest \(reference).")
            }
            render(exchange, "manifest") {
                Self.fill(&context, name: name, reference: reference, digest: digest, bytes: bytes, document: document, reader: reader, paths: paths)
                context["deletes"] = deletes
                context["deleteLink"] = paths.delete(name.value, digest.description)
                context["pullLines"] = PullCommands.lines(host: host, repository: name.value, reference: reference, plainHTTP: plainHTTP)
                return context
            }
        })
    }

    /// The manifest page's context (on the pool: reads the config, the children and the referrers).
    static func fill(_ context: inout [String: Any], name: RepositoryName, reference: String, digest: Digest, bytes: [UInt8],
                     document: ManifestDocument, reader: StoreReader, paths: UIPaths) {
        context["name"] = name.value
        context["reference"] = reference
        context["repositoryLink"] = paths.repository(name.value)
        context["digest"] = digest.description
        context["mediaType"] = document.mediaType
        if let artifactType = document.artifactType ?? document.config?.mediaType.nilUnless(isArtifact: document) { context["artifactType"] = artifactType }
        context["manifestSize"] = ByteCount.text(Int64(bytes.count))
        if !document.isIndex { context["imageSize"] = ByteCount.text(document.imageBytes) }
        if let subject = document.subject {
            context["subject"] = ["digest": subject.digest, "link": paths.manifest(name.value, subject.digest)]
        }
        let children: [[String: Any]] = document.manifests.map { child in
            [
                "platform": child.platform ?? child.artifactType ?? "–",
                "digest": child.digest,
                "shortDigest": short(child.digest),
                "link": paths.manifest(name.value, child.digest),
                "mediaType": child.mediaType,
                "size": ByteCount.text(child.size),
            ]
        }
        context["children"] = children
        context["hasChildren"] = !children.isEmpty
        if let descriptor = document.config {
            var config: [String: Any] = ["digest": descriptor.digest, "size": ByteCount.text(descriptor.size)]
            if let image = reader.config(descriptor) {
                if let platform = image.platform { config["platform"] = platform }
                if let created = image.created { config["created"] = TimeText.config(created) }
                if !image.entrypoint.isEmpty { config["entrypoint"] = ImageConfigDocument.commandLine(image.entrypoint) }
                if !image.cmd.isEmpty { config["cmd"] = ImageConfigDocument.commandLine(image.cmd) }
                if let workingDir = image.workingDir { config["workingDir"] = workingDir }
                if let user = image.user { config["user"] = user }
                config["ports"] = image.exposedPorts
                config["hasPorts"] = !image.exposedPorts.isEmpty
                config["env"] = image.env
                config["hasEnv"] = !image.env.isEmpty
                config["labels"] = image.labels.map { ["key": $0.key, "value": $0.value] }
                config["hasLabels"] = !image.labels.isEmpty
                let history: [[String: Any]] = image.history.map {
                    ["created": $0.created.map(TimeText.config) ?? "", "createdBy": $0.createdBy, "emptyLayer": $0.emptyLayer]
                }
                context["history"] = history
                context["hasHistory"] = !history.isEmpty
            }
            context["config"] = config
        }
        let layers: [[String: Any]] = document.layers.enumerated().map { index, layer in
            ["position": index + 1, "digest": layer.digest, "shortDigest": short(layer.digest), "mediaType": layer.mediaType, "size": ByteCount.text(layer.size)]
        }
        context["layers"] = layers
        context["hasLayers"] = !layers.isEmpty
        context["layerCount"] = layers.count
        context["layerBytes"] = ByteCount.text(document.layers.reduce(0) { $0 + $1.size })
        context["annotations"] = document.annotations.map { ["key": $0.key, "value": $0.value] }
        context["hasAnnotations"] = !document.annotations.isEmpty
        let referrers: [[String: Any]] = reader.referrers(of: digest, in: name).map { referrer in
            [
                "digest": referrer.digest.description,
                "shortDigest": short(referrer.digest.description),
                "link": paths.manifest(name.value, referrer.digest.description),
                "artifactType": referrer.document?.artifactType ?? referrer.document?.config?.mediaType ?? "–",
                "mediaType": referrer.document?.mediaType ?? "",
            ]
        }
        context["referrers"] = referrers
        context["hasReferrers"] = !referrers.isEmpty
    }
}

private extension String {
    /// An artifact without `artifactType` names its type in the config's media type (OCI image-spec 1.1,
    /// "Guidelines for artifact usage"); an image's config type says nothing new.
    func nilUnless(isArtifact document: ManifestDocument) -> String? {
        self == "application/vnd.oci.image.config.v1+json" || self == "application/vnd.docker.container.image.v1+json" || isEmpty ? nil : self
    }
}
