"""The queue catalogue: definition files, the registry of loaded queues and handlers, the handler
package, hot reload and role rules."""
