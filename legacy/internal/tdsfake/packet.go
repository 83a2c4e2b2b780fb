package tdsfake

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// TDS packet types (MS-TDS 2.2.3.1.1).
const (
	pktSQLBatch  byte = 0x01
	pktRPC       byte = 0x03
	pktReply     byte = 0x04
	pktAttention byte = 0x06
	pktLogin7    byte = 0x10
	pktPrelogin  byte = 0x12
)

// Packet status bits (MS-TDS 2.2.3.1.2).
const (
	statusEOM           byte = 0x01
	statusResetConn     byte = 0x08
	headerLen                = 8
	defaultPacketSize        = 4096
	maxMessageSize           = 64 << 20 // refuse absurd client messages
	maxClientPacketSize      = 32767
)

// message is one reassembled client message: all packets up to and including the one with EOM.
type message struct {
	typ   byte
	reset bool // the first packet asked for RESETCONNECTION
	data  []byte
}

// readMessage reads packets until EOM and returns the reassembled payload.
func readMessage(r io.Reader) (*message, error) {
	var hdr [headerLen]byte
	var msg *message
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, err
		}
		size := int(binary.BigEndian.Uint16(hdr[2:4]))
		if size < headerLen || size > maxClientPacketSize {
			return nil, fmt.Errorf("tdsfake: bad packet length %d", size)
		}
		if msg == nil {
			msg = &message{typ: hdr[0], reset: hdr[1]&statusResetConn != 0}
		} else if hdr[0] != msg.typ {
			return nil, fmt.Errorf("tdsfake: packet type changed from %#x to %#x inside a message", msg.typ, hdr[0])
		}
		start := len(msg.data)
		if start+size-headerLen > maxMessageSize {
			return nil, errors.New("tdsfake: client message too large")
		}
		msg.data = append(msg.data, make([]byte, size-headerLen)...)
		if _, err := io.ReadFull(r, msg.data[start:]); err != nil {
			return nil, err
		}
		if hdr[1]&statusEOM != 0 {
			return msg, nil
		}
	}
}

// writeMessage splits payload into packets of at most packetSize bytes (header included)
// and writes them, the last one flagged EOM.
func writeMessage(w io.Writer, typ byte, payload []byte, packetSize int, spid uint16) error {
	if packetSize < 512 {
		packetSize = defaultPacketSize
	}
	chunk := packetSize - headerLen
	buf := make([]byte, 0, min(len(payload), chunk)+headerLen)
	id := byte(1)
	for {
		n := min(len(payload), chunk)
		status := byte(0)
		if n == len(payload) {
			status = statusEOM
		}
		buf = buf[:headerLen]
		buf[0] = typ
		buf[1] = status
		binary.BigEndian.PutUint16(buf[2:4], uint16(n+headerLen))
		binary.BigEndian.PutUint16(buf[4:6], spid)
		buf[6] = id
		buf[7] = 0
		buf = append(buf, payload[:n]...)
		if _, err := w.Write(buf); err != nil {
			return err
		}
		payload = payload[n:]
		id++
		if status == statusEOM {
			return nil
		}
	}
}
