import BerthStorage

/// What a mirrored request is about once resolved against the mirror's upstreams (`Mirror.resolve`): the
/// configured upstream that answers it, the repository as that upstream names it (`library/` added for
/// Docker Hub) and as the local cache keeps it (under the upstream's prefix).
struct MirrorTarget {
    let upstream: ConfiguredUpstream
    let remote: String
    let local: RepositoryName
}
