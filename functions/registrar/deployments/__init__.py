"""The deployment flow: an endpoint that went ``InService`` records, on each version it serves, where it went live."""
