"""Documents attached to a request (request letter, host-state consent, terms of reference): their
type judged from their bytes, a checksum, the request's classification, stored through a port
(a folder, or S3), every download logged, never shown inline."""
