import BerthHTTP
import BerthRegistry
import BerthStorage

extension RegistryUI {
    /// A manifest by tag or digest: its facts, the pull lines, an index's children with their platforms, an
    /// image's config (how it runs, labels, history) and layers, annotations, the subject it refers to and the
    /// manifests that refer to it. Everything is read and rendered on the pool.
    func manifestPage(_ name: RepositoryName, _ reference: String, mayDelete: Bool, _ exchange: HTTPExchange) {
        var context = baseContext(exchange, title: "\(name.value):\(reference)")
        let reader = self.reader, paths = self.paths, deletes = registry.deletesEnabled && mayDelete
        let host = self.host(exchange), plainHTTP = options.plainHTTP
        render(exchange, "manifest", missing: ("No such manifest", "\(name.value) has no manifest \(reference).")) {
            guard let (digest, bytes) = reader.resolve(reference, in: name), let document = ManifestDocument(bytes) else { return nil }
            Self.fill(&context, name: name, reference: reference, digest: digest, bytes: bytes, document: document, reader: reader, paths: paths)
            context["deletes"] = .flag(deletes)
            context["deleteLink"] = .text(paths.delete(name.value, digest.description))
            context["pullLines"] = .texts(PullCommands.lines(host: host, repository: name.value, reference: reference, plainHTTP: plainHTTP))
            return context
        }
    }

    /// The manifest page's context (on the pool: reads the config, the children and the referrers).
    static func fill(_ context: inout PageFields, name: RepositoryName, reference: String, digest: Digest, bytes: [UInt8],
                     document: ManifestDocument, reader: StoreReader, paths: UIPaths) {
        context["name"] = .text(name.value)
        context["reference"] = .text(reference)
        context["repositoryLink"] = .text(paths.repository(name.value))
        context["digest"] = .text(digest.description)
        context["mediaType"] = .text(document.mediaType)
        if let artifactType = document.artifactType ?? document.config?.mediaType.nilUnless(isArtifact: document) { context["artifactType"] = .text(artifactType) }
        context["manifestSize"] = .text(ByteCount.text(Int64(bytes.count)))
        if !document.isIndex { context["imageSize"] = .text(ByteCount.text(document.imageBytes)) }
        if let subject = document.subject {
            context["subject"] = ["digest": .text(subject.digest), "link": .text(paths.manifest(name.value, subject.digest))]
        }
        let children: [PageValue] = document.manifests.map { child in
            [
                "platform": .text(child.platform ?? child.artifactType ?? "–"),
                "digest": .text(child.digest),
                "shortDigest": .text(short(child.digest)),
                "link": .text(paths.manifest(name.value, child.digest)),
                "mediaType": .text(child.mediaType),
                "size": .text(ByteCount.text(child.size)),
            ]
        }
        context["children"] = .list(children)
        context["hasChildren"] = .flag(!children.isEmpty)
        if let descriptor = document.config {
            var config: PageFields = ["digest": .text(descriptor.digest), "size": .text(ByteCount.text(descriptor.size))]
            if let image = reader.config(descriptor) {
                if let platform = image.platform { config["platform"] = .text(platform) }
                if let created = image.created { config["created"] = .text(TimeText.config(created)) }
                if !image.entrypoint.isEmpty { config["entrypoint"] = .text(ImageConfigDocument.commandLine(image.entrypoint)) }
                if !image.cmd.isEmpty { config["cmd"] = .text(ImageConfigDocument.commandLine(image.cmd)) }
                if let workingDir = image.workingDir { config["workingDir"] = .text(workingDir) }
                if let user = image.user { config["user"] = .text(user) }
                config["ports"] = .texts(image.exposedPorts)
                config["hasPorts"] = .flag(!image.exposedPorts.isEmpty)
                config["env"] = .texts(image.env)
                config["hasEnv"] = .flag(!image.env.isEmpty)
                config["labels"] = .list(image.labels.map { ["key": .text($0.key), "value": .text($0.value)] })
                config["hasLabels"] = .flag(!image.labels.isEmpty)
                let history: [PageValue] = image.history.map {
                    ["created": .text($0.created.map(TimeText.config) ?? ""), "createdBy": .text($0.createdBy), "emptyLayer": .flag($0.emptyLayer)]
                }
                context["history"] = .list(history)
                context["hasHistory"] = .flag(!history.isEmpty)
            }
            context["config"] = .fields(config)
        }
        let layers: [PageValue] = document.layers.enumerated().map { index, layer in
            ["position": .number(index + 1), "digest": .text(layer.digest), "shortDigest": .text(short(layer.digest)),
             "mediaType": .text(layer.mediaType), "size": .text(ByteCount.text(layer.size))]
        }
        context["layers"] = .list(layers)
        context["hasLayers"] = .flag(!layers.isEmpty)
        context["layerCount"] = .number(layers.count)
        context["layerBytes"] = .text(ByteCount.text(document.layers.reduce(0) { $0 + $1.size }))
        context["annotations"] = .list(document.annotations.map { ["key": .text($0.key), "value": .text($0.value)] })
        context["hasAnnotations"] = .flag(!document.annotations.isEmpty)
        let referrers: [PageValue] = reader.referrers(of: digest, in: name).map { referrer in
            [
                "digest": .text(referrer.digest.description),
                "shortDigest": .text(short(referrer.digest.description)),
                "link": .text(paths.manifest(name.value, referrer.digest.description)),
                "artifactType": .text(referrer.document?.artifactType ?? referrer.document?.config?.mediaType ?? "–"),
                "mediaType": .text(referrer.document?.mediaType ?? ""),
            ]
        }
        context["referrers"] = .list(referrers)
        context["hasReferrers"] = .flag(!referrers.isEmpty)
    }
}

private extension String {
    /// An artifact without `artifactType` names its type in the config's media type (OCI image-spec 1.1,
    /// "Guidelines for artifact usage"); an image's config type says nothing new.
    func nilUnless(isArtifact document: ManifestDocument) -> String? {
        self == "application/vnd.oci.image.config.v1+json" || self == "application/vnd.docker.container.image.v1+json" || isEmpty ? nil : self
    }
}
