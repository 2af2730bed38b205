package state

import (
	"encoding/binary"
	"fmt"
)

// Key layout. Every key starts with the partition number (4 bytes
// big-endian) and a kind byte, so one partition's keys are contiguous and
// [prefix, prefix+0xff) covers all of them (every kind is below 0xff):
//
//	p | 'b' | name              snapshot blob (e.g. a segment bitmap), opaque bytes
//	p | 'd' | dense id BE4      user id holding that dense id
//	p | 'o'                     next input offset, 8 bytes big-endian
//	p | 's'                     next dense-id sequence to hand out, 4 bytes big-endian
//	p | 't' | due BE8 | userID  timer index, empty value
//	p | 'u' | userID            encoded UserRecord (see AppendRecord)
//
// A timer key's due time (Unix ms) is stored with its sign bit flipped, so
// that keys sort by due time for every int64 (a negative due time, from a
// bogus event timestamp, sorts first and fires, instead of last and never).
const (
	kindBlob     byte = 'b'
	kindDense    byte = 'd'
	kindOffset   byte = 'o'
	kindDenseSeq byte = 's'
	kindTimer    byte = 't'
	kindUser     byte = 'u'

	// kindEnd is above every kind: p|kindEnd bounds a partition's keys.
	kindEnd byte = 0xff

	partitionPrefixLen = 5 // partition number + kind
	timerPrefixLen     = partitionPrefixLen + 8
)

func appendKey(dst []byte, partition int32, kind byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(partition))
	return append(dst, kind)
}

func appendUserKey(dst []byte, partition int32, userID string) []byte {
	return append(appendKey(dst, partition, kindUser), userID...)
}

// appendTimerKey is the timer-index key: due time first so that a
// partition's due timers are a prefix scan.
func appendTimerKey(dst []byte, partition int32, dueUnixMs int64, userID string) []byte {
	dst = appendKey(dst, partition, kindTimer)
	dst = binary.BigEndian.AppendUint64(dst, uint64(dueUnixMs)^1<<63)
	return append(dst, userID...)
}

// parseTimerKey splits a timer-index key into its due time and user id; ok
// is false if key is too short to be one.
func parseTimerKey(key []byte) (dueUnixMs int64, userID []byte, ok bool) {
	if len(key) < timerPrefixLen {
		return 0, nil, false
	}
	due := binary.BigEndian.Uint64(key[partitionPrefixLen:]) ^ 1<<63
	return int64(due), key[timerPrefixLen:], true
}

func appendDenseKey(dst []byte, partition int32, id uint32) []byte {
	return binary.BigEndian.AppendUint32(appendKey(dst, partition, kindDense), id)
}

func appendBlobKey(dst []byte, partition int32, name string) []byte {
	return append(appendKey(dst, partition, kindBlob), name...)
}

// Dense ids put the partition in the top 8 bits and a per-partition sequence
// in the low 24 bits.
const (
	// MaxDensePartition is the largest partition number a dense id can hold.
	MaxDensePartition = 1<<8 - 1
	// MaxDenseSeq is the largest per-partition sequence a dense id can hold.
	MaxDenseSeq = 1<<24 - 1

	denseSeqBits = 24
)

// DenseID returns the dense id of the seq-th user of partition: the
// partition in the top 8 bits, seq in the low 24. Each partition hands out
// its own sequence (see Partition.DenseSeq), so ids are unique across
// partitions without any coordination, and since the id is stored in the
// user record when first assigned it is stable for the user's life. It fails
// if partition is outside [0, 255] or seq does not fit in 24 bits. Id 0
// (partition 0, seq 0) looks like an unset UserRecord.DenseID; callers that
// need to tell them apart start sequences at 1.
func DenseID(partition int32, seq uint32) (uint32, error) {
	if partition < 0 || partition > MaxDensePartition {
		return 0, fmt.Errorf("state: dense id: partition %d outside [0, %d]", partition, MaxDensePartition)
	}
	if seq > MaxDenseSeq {
		return 0, fmt.Errorf("state: dense id: seq %d of partition %d exceeds %d", seq, partition, MaxDenseSeq)
	}
	return uint32(partition)<<denseSeqBits | seq, nil
}

// DensePartition returns the partition that handed out the dense id.
func DensePartition(id uint32) int32 {
	return int32(id >> denseSeqBits)
}
