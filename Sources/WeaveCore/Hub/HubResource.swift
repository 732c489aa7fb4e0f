/// Something a higher layer keeps open on a hub (a socket, a watcher). The hub closes
/// whatever is still open when it shuts down, before it closes its loop, so that no libuv
/// handle outlives the loop and no object later closes a handle the hub already freed.
package protocol HubResource: AnyObject {
    /// Closes the underlying handle (and unregisters).
    func closeForShutdown()
}

/// An unretained reference to a registered resource.
struct UnretainedResource {
    unowned(unsafe) let resource: any HubResource
}

extension Hub {
    /// Tracks `resource` until ``unregister(_:)``. Unretained: a resource unregisters
    /// itself when it closes, which its deinit does at the latest.
    package func register(_ resource: some HubResource) {
        resources[ObjectIdentifier(resource)] = UnretainedResource(resource: resource)
    }

    package func unregister(_ resource: any HubResource) {
        resources[ObjectIdentifier(resource)] = nil
    }

    /// Closes every resource still open (after all coroutines have finished).
    func closeResources() {
        while let (_, resource) = resources.first {
            // Retained while it closes: closing may drop the last reference elsewhere.
            let object = resource.resource
            object.closeForShutdown()
            unregister(object)
        }
    }
}
