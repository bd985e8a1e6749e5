-- Wireshark / tshark dissector for wirefleet Tango tunnel frames (issue 12).
--
--   tshark -X lua_script:tools/wireshark/tango.lua -r tunnel.pcap
--   (or copy this file into Wireshark's personal Lua plugins folder)
--
-- Frames: Ethernet / IPv6 / UDP (both ports 61042, the node's default) / Tango header / inner
-- IPv4. It registers on the UDP port, so no "Decode As" is needed; change the port under
-- Preferences > Protocols > WFTANGO (or -o wftango.port:N) when the nodes use another one.
-- Filter fields: wftango.path_id, wftango.timestamp, wftango.timestamp_ms, wftango.signature,
-- wftango.seq, wftango.book.
--
-- The 10-byte header, big-endian, fields right-aligned in byte-aligned containers
-- (spec/tango-packet-layout.md); the nodes refuse a header with a padding bit set:
--   byte 0     00000ppp          path_id
--   bytes 1-2  0000tttt tttttttt timestamp, sender clock in 2^20 ns ticks (wraps every 4.295 s)
--   bytes 3-6  signature         32-bit truncated SipHash-2-4 tag (native/src/tango_sig.c)
--   bytes 7-8  sequence number   per path, wraps
--   byte 9     0000000b          book signature
-- The signature cannot be checked here: that needs the pair's epoch key.

local DEFAULT_PORT = 61042
local TICK_MS = 1048576 / 1e6

-- "wftango", not "tango": Wireshark already has a protocol whose short name is TANGO (giop-tango,
-- the Tango control system over CORBA), and protocol names must be unique.
local tango = Proto("wftango", "Tango tunnel (wirefleet)")

local f = tango.fields
f.path_id = ProtoField.uint8("wftango.path_id", "Path ID", base.DEC, nil, 0x07)
f.path_padding = ProtoField.uint8("wftango.path_id.padding", "Padding", base.HEX, nil, 0xf8)
f.timestamp = ProtoField.uint16("wftango.timestamp", "Timestamp", base.DEC, nil, 0x0fff,
  "Sender clock in 2^20 ns ticks, modulo 4096")
f.timestamp_padding = ProtoField.uint16("wftango.timestamp.padding", "Padding", base.HEX, nil, 0xf000)
f.timestamp_ms = ProtoField.double("wftango.timestamp_ms", "Timestamp (ms into its 4.295 s wrap)")
f.signature = ProtoField.uint32("wftango.signature", "Signature", base.HEX)
f.seq = ProtoField.uint16("wftango.seq", "Sequence number", base.DEC)
f.book = ProtoField.uint8("wftango.book", "Book signature", base.DEC, nil, 0x01)
f.book_padding = ProtoField.uint8("wftango.book.padding", "Padding", base.HEX, nil, 0xfe)

local e_padding = ProtoExpert.new("wftango.padding.set", "Padding bits set: Tango nodes refuse this header",
  expert.group.MALFORMED, expert.severity.ERROR)
local e_short = ProtoExpert.new("wftango.short", "Shorter than the 10-byte Tango header",
  expert.group.MALFORMED, expert.severity.ERROR)
tango.experts = { e_padding, e_short }

tango.prefs.port = Pref.uint("UDP port", DEFAULT_PORT, "UDP port of the Tango shim (both ends use it)")

local ip = Dissector.get("ip")
local data = Dissector.get("data")

function tango.dissector(tvb, pinfo, tree)
  local len = tvb:len()
  local subtree = tree:add(tango, tvb(0, math.min(len, 10)))
  if len < 10 then
    subtree:add_proto_expert_info(e_short)
    return len
  end
  local path_id = tvb(0, 1):bitfield(5, 3)
  local timestamp = tvb(1, 2):bitfield(4, 12)
  local seq = tvb(7, 2):uint()

  subtree:add(f.path_id, tvb(0, 1))
  subtree:add(f.path_padding, tvb(0, 1))
  subtree:add(f.timestamp, tvb(1, 2))
  subtree:add(f.timestamp_padding, tvb(1, 2))
  subtree:add(f.timestamp_ms, tvb(1, 2), timestamp * TICK_MS):set_generated()
  subtree:add(f.signature, tvb(3, 4))
  subtree:add(f.seq, tvb(7, 2))
  subtree:add(f.book, tvb(9, 1))
  subtree:add(f.book_padding, tvb(9, 1))
  if tvb(0, 1):bitfield(0, 5) ~= 0 or tvb(1, 2):bitfield(0, 4) ~= 0 or tvb(9, 1):bitfield(0, 7) ~= 0 then
    subtree:add_proto_expert_info(e_padding)
  end
  subtree:append_text(string.format(", Path %d, Seq %d, Timestamp %d", path_id, seq, timestamp))

  if len > 10 then
    local inner = tvb(10):tvb()
    if bit.rshift(inner(0, 1):uint(), 4) == 4 then
      ip:call(inner, pinfo, tree)
    else
      data:call(inner, pinfo, tree)
    end
  end
  -- After the inner layers wrote theirs, so the summary line names the tunnel too.
  pinfo.cols.info:prepend(string.format("Tango path %d seq %d: ", path_id, seq))
  return len
end

local udp_port = DissectorTable.get("udp.port")
local registered = DEFAULT_PORT
udp_port:add(registered, tango)

function tango.prefs_changed()
  if tango.prefs.port ~= registered then
    udp_port:remove(registered, tango)
    registered = tango.prefs.port
    udp_port:add(registered, tango)
  end
end
