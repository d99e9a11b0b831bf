"""The HTTP service apps talk to: event collector, feedback, reads (REST and GraphQL), OAuth 2.0."""
