// Package deepstorage pulls segments from Druid deep storage into a segment directory, as a Historical's
// SegmentLocalCacheManager does through its DataSegmentPullers: it reads a DataSegment's "loadSpec" (ParseLoadSpec)
// and fetches the files it names (Puller.Pull).
//
// Load specs: "s3_zip" (keys ending in .zip, .gz, or / for Druid 35+'s unzipped segments), "google" and "azure"
// (Google Cloud Storage and Azure Blob Storage: an archive, or a path ending in / for unzipped segments), "local"
// (an index.zip, a .gz file or a directory) and "tombstone" (no deep storage at all: factory.json naming the
// tombstone factory). Other types (hdfs, …) parse to an *UnsupportedTypeError, so that a load can be reported
// FAILED with that cause, which names the supported types.
//
// What is pulled is untrusted. Every file is created through the segment directory's *os.Root, flat, under a name
// that cannot escape it, once, never over a file already there; symlinks, directories and special files are
// refused; the bytes written are counted as they are written and bounded by the caller's limit, whatever an
// archive's headers claim. An archive is unpacked as it arrives (a streaming reader that understands Java's data
// descriptors and zip64, and checks every entry's CRC-32 and the central directory against what it read); the
// rare archive a stream cannot read is downloaded into an unlinked temporary file and read with archive/zip.
//
// Transfers: S3 is read with aws-sdk-go-v2 (custom endpoint, path-style, static credentials or the default chain),
// Google Cloud Storage with cloud.google.com/go/storage (Application Default Credentials), Azure Blob Storage with
// azblob (the account's shared key or a shared access signature); all three through the same transfers below, each
// SDK's own retries off.
// The first GET asks for the first part (8 MiB) of the object; an object no larger arrives whole and is unpacked
// as it streams in, a larger one has its next parts fetched ahead in parallel ranged GETs while the first part is
// being unpacked. S3 serves one connection at about 85 MB/s, which a single GET (Java's way) cannot pass.
// Choosing this by measurement: see bench_test.go. Requests retry with exponential backoff and full jitter on
// throttling, 5xx and broken or stalled connections, resuming a broken transfer where it stopped (never on 403 or
// 404); a pull has a timeout; canceling its context stops it at once. Errors read as sentences an operator can act
// on, naming the object, and match ErrNotFound, ErrAccessDenied, ErrInvalidArchive, ErrTooLarge or
// ErrUnsupportedLoadSpec.
//
// Every Puller of the process counts into Collector's metrics, by backend (s3, google, azure, local): requests and
// pull durations by outcome, retries, bytes read, and druid_sidecar_deep_storage_up, whether the latest request got
// an answer (metrics.go).
//
// The package knows nothing of the segment cache around it (reservations, info_dir, the download marker): the
// caller creates the segment's directory and hands it over as an *os.Root.
package deepstorage
