// Package segment decodes Segment Spec JSON messages (track, identify, page,
// screen, alias) into Events in a single pass that allocates only to unescape
// strings; a message is either decoded whole from well-formed JSON or refused
// with a DecodeError whose Reason is a stable, machine-readable constant.
package segment
