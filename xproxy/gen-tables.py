#!/usr/bin/python3
#
# gen-tables.py: compiles xcb-proto's XML into the protocol tables of
# xproxy/proto.h (build/gen/proto-tables.{c,h}).
#
# Usage: gen-tables.py --xml-dir DIR --out-c FILE --out-h FILE
#
# Why plain xml.etree and not xcbgen: xcbgen is built to emit C bindings; it
# resolves types into Python objects with C-binding concerns (serializers,
# accessors) and silently tolerates constructs the C generator does not need.
# We need the opposite: a small compiler that knows exactly which constructs
# exist, compiles each into walker ops, and stops the build on anything else.
# xcbgen is also not on /usr/bin/python3's default path on Debian 12.
#
# What comes out (see the generated header for the exact C layout):
#
#   * One flat op program per message (request, reply, event, Generic Event).
#     The walker keeps a cursor POS into the message and interprets ops:
#       END                 the walk is done
#       FAIL                the message cannot be followed (BAD_VALUE)
#       FIELD  kind, a=off  visit the 4-byte field at POS+off
#       READ   x=size, a=off, b=slot
#                           store the 1/2/4-byte field at POS+off in a slot
#                           (fields that a later expression refers to)
#       ADV    b=n          POS += n
#       ALIGN  b=n          POS rounded up to a multiple of n (from byte 0)
#       REQHDR              POS = 4, or 8 for a BIG-REQUESTS request
#       EVAL   a=slot, b=expr
#                           slot = value of expression EXPR
#       ACC    a=slot, b=expr
#                           slot += value of expression EXPR (sumof)
#       LIST   x=kind, a=elem size, b=expr
#                           COUNT = EXPR (or the rest of the message when
#                           b is PROTO_LIST_REST) elements of a primitive type
#                           or a fixed-size struct with no translated field
#                           but maybe one at its offset 0; when kind is not
#                           NONE, visits the first 4 bytes of each element
#       LOOP   a=ops to skip when the count is 0, b=expr
#                           starts a loop over COUNT struct elements; the
#                           body follows and ends with ENDLOOP
#       ENDLOOP a=body length
#                           next element, or leave the loop
#       SLEN   b=expr       POS = start of this loop element + EXPR (a struct
#                           with a <length> element)
#       IF     a=ops to skip when false, b=expr
#                           run the next A ops only when EXPR is non-zero
#                           (a case with several values)
#       IFBITS x=slot, a=ops to skip, b=mask
#                           run the next A ops only when slot & mask (bitcase)
#       IFEQ   x=slot, a=ops to skip, b=value
#                           run the next A ops only when slot == value (case,
#                           a union arm, an XKB event type)
#       VLIST  x=slot, b=table
#                           a plain X value list: one 4-byte value per set
#                           bit of the mask in the slot, in bit order, its
#                           kind in proto_vlists[b + bit] (0xff: the bit
#                           carries no value)
#
#   * Expressions (list counts, switch values, struct lengths) live in one
#     array of 32-bit words, in reverse Polish notation: low 8 bits the code,
#     high 24 bits an argument: CONST n (CONSTW: the next word is the value),
#     SLOT n, ADD, SUB, MUL, DIV, AND, OR, SHL, NOT, POPCOUNT, EQ, END, and
#     REST n (bytes left in the message after POS, divided by n).  They
#     run on a small fixed stack (PROTO_X_STACK).  sumof is compiled into an
#     ACC op in the loop over the summed list.
#
#   * Slot 0 always holds the message's length field (requests: in 4-byte
#     units, whole request; replies and Generic Events: the extra length).
#
# Message layout follows libxcb: a core request's first field sits in byte 1
# when it is 1 byte long, an extension request's fields start at byte 4;
# replies: byte 1, then byte 8; events: byte 1 (unless no-sequence-number,
# then fields start at byte 1), then byte 4; Generic Events: byte 10.
#
# Compilation: a message's fields are laid out at static offsets as long as
# they can be; anything of variable size (a list with a computed count, a
# switch, an alignment pad) flushes the static run with an ADV.  Nested
# structs are compiled inline (no calls), lists of structs as LOOP bodies,
# bitcases and cases as IF* blocks, so a program is one flat array the
# walker runs without recursion.  Then two reductions: the ops after the
# last one that can visit a field are dropped (the rest of the message holds
# no IDs), and slot stores that no remaining op reads are dropped.  So
# PolyFillRectangle is REQHDR, FIELD, FIELD, END; its rectangles are never
# looked at.  Consequence: the walker checks the lengths of what it walks
# (the fixed part always, via the minimum size), not of trailing data.
#
# XKEYBOARD: all XKB events share one event code and are told apart by the
# xkbType byte at offset 1.  The tables give XKB one event (number 0), an
# "XkbEvent" program that dispatches on byte 1 with IFEQ ops (FAIL for an
# unknown xkbType), and the per-subtype programs through proto_xkb_event().
#
# Knowledge the XML lacks is data here, in tables below: TYPE_KINDS (xcb
# type names -> ProtoKind), FIELD_KINDS (CARD32 fields that hold IDs, e.g.
# KillClient's resource, RANDR ModeInfo.id), UNION_SELECTORS (RANDR
# NotifyData: the member is chosen by subCode), ERROR_KINDS and
# EXTRA_ERRORS (SYNC's Fence error), and the XKB keyboard geometry
# descriptions (GetGeometry, SetGeometry, GetKbdByName), which xkb.xml
# comments out.  Special cases whose meaning depends on values (property
# data, ClientMessage data, font and glyph-set switches inside text and
# glyph lists, SendEvent's event) are the proxy's hooks, not tables.
#
# The generator stops (exit status 1, one line naming the message) on any
# element, type, operator or field reference it does not know in a
# translated module (used by a message or not), on a union whose members
# hold translated fields without a selector rule, on IDs narrower than 4
# bytes, and on any limit overflow (slots, stack, loop depth, op operands).
# <fd> elements carry no bytes; their messages are flagged (PROTO_MSG_FDS).
# Nothing is silently dropped.

import argparse
import os
import sys
import xml.etree.ElementTree as ET

# Translated modules: (xml file, X name) in table order; core first.
MODULES = [
	('xproto', None),
	('bigreq', 'BIG-REQUESTS'),
	('xc_misc', 'XC-MISC'),
	('ge', 'Generic Event Extension'),
	('xkb', 'XKEYBOARD'),
	('render', 'RENDER'),
	('xfixes', 'XFIXES'),
	('shape', 'SHAPE'),
	('randr', 'RANDR'),
	('xinput', 'XInputExtension'),
	('sync', 'SYNC'),
	('damage', 'DAMAGE'),
	('composite', 'Composite'),
	('xtest', 'XTEST'),
	('screensaver', 'MIT-SCREEN-SAVER'),
	('dbe', 'DOUBLE-BUFFER'),
	('xinerama', 'XINERAMA'),
	('res', 'X-Resource'),
]

# ProtoKind names, in proto.h's order (index = enum value).
KINDS = ['NONE', 'WINDOW', 'PIXMAP', 'DRAWABLE', 'GCONTEXT', 'FONT',
	 'FONTABLE', 'CURSOR', 'COLORMAP', 'PICTURE', 'GLYPHSET', 'REGION',
	 'FENCE', 'COUNTER', 'ALARM', 'DAMAGE', 'BARRIER', 'XID', 'ATOM',
	 'TIMESTAMP', 'VISUALID', 'PICTFORMAT', 'CRTC', 'OUTPUT', 'MODE',
	 'PROVIDER']

# xcb type name -> kind, per module.  Other xidtypes/xidunions become XID.
TYPE_KINDS = {
	'xproto': {'WINDOW': 'WINDOW', 'PIXMAP': 'PIXMAP', 'CURSOR': 'CURSOR',
		   'FONT': 'FONT', 'GCONTEXT': 'GCONTEXT',
		   'COLORMAP': 'COLORMAP', 'ATOM': 'ATOM',
		   'DRAWABLE': 'DRAWABLE', 'FONTABLE': 'FONTABLE',
		   'VISUALID': 'VISUALID', 'TIMESTAMP': 'TIMESTAMP'},
	'render': {'PICTURE': 'PICTURE', 'GLYPHSET': 'GLYPHSET',
		   'PICTFORMAT': 'PICTFORMAT'},
	'xfixes': {'REGION': 'REGION', 'BARRIER': 'BARRIER'},
	'sync': {'COUNTER': 'COUNTER', 'ALARM': 'ALARM', 'FENCE': 'FENCE'},
	'damage': {'DAMAGE': 'DAMAGE'},
	'randr': {'CRTC': 'CRTC', 'OUTPUT': 'OUTPUT', 'MODE': 'MODE',
		  'PROVIDER': 'PROVIDER'},
}

# Fields the XML types as plain CARD32 that hold IDs:
# (module, struct or request name, field name) -> kind.
FIELD_KINDS = {
	('xproto', 'KillClient', 'resource'): 'XID',
	('sync', 'SetPriority', 'id'): 'XID',
	('sync', 'GetPriority', 'id'): 'XID',
	('randr', 'ModeInfo', 'id'): 'MODE',
	('res', 'QueryClientResources', 'xid'): 'XID',
	('res', 'QueryClientPixmapBytes', 'xid'): 'XID',
	('res', 'QueryResourceBytes', 'client'): 'XID',
	('res', 'ClientIdSpec', 'client'): 'XID',
	('res', 'ResourceIdSpec', 'resource'): 'XID',
	('res', 'ResourceIdSpec', 'type'): 'ATOM',
}

# Unions whose members hold translated fields: the field (of the enclosing
# message) that selects the member, member I being selected by value I.
UNION_SELECTORS = {
	('randr', 'NotifyData'): 'subCode',
}

# Error name -> kind of the bad value at offset 4.
ERROR_KINDS = {
	'Window': 'WINDOW', 'Pixmap': 'PIXMAP', 'Cursor': 'CURSOR',
	'Font': 'FONT', 'Drawable': 'DRAWABLE', 'Colormap': 'COLORMAP',
	'GContext': 'GCONTEXT', 'IDChoice': 'XID', 'Atom': 'ATOM',
	'PictFormat': 'PICTFORMAT', 'Picture': 'PICTURE',
	'GlyphSet': 'GLYPHSET', 'BadRegion': 'REGION', 'BadDamage': 'DAMAGE',
	'Counter': 'COUNTER', 'Alarm': 'ALARM', 'Fence': 'FENCE',
	'BadOutput': 'OUTPUT', 'BadCrtc': 'CRTC', 'BadMode': 'MODE',
	'BadProvider': 'PROVIDER', 'BadBuffer': 'DRAWABLE',
}

# Requests whose older protocol versions are shorter than the XML's, which
# servers still accept: (module, request) -> minimum size.  RANDR 1.0's
# SetScreenConfig has no rate field.
MIN_SIZES = {
	('randr', 'SetScreenConfig'): 20,
}

# Errors the server defines that the XML lacks: module -> {number: name}.
# (SYNC 3.1 servers register three errors; sync.xml describes two.)
EXTRA_ERRORS = {
	'sync': {2: 'Fence'},
}

PRIMS = {'CARD8': 1, 'INT8': 1, 'BYTE': 1, 'BOOL': 1, 'char': 1, 'void': 1,
	 'CARD16': 2, 'INT16': 2, 'CARD32': 4, 'INT32': 4, 'CARD64': 8,
	 'INT64': 8, 'float': 4, 'double': 8}

# Op codes and expression codes (the order is the C enum's).
OPS = ['END', 'FAIL', 'FIELD', 'READ', 'ADV', 'ALIGN', 'REQHDR', 'EVAL',
       'ACC', 'LIST', 'LOOP', 'ENDLOOP', 'SLEN', 'IF', 'IFBITS', 'IFEQ',
       'VLIST']
XOPS = ['END', 'CONST', 'CONSTW', 'SLOT', 'ADD', 'SUB', 'MUL', 'DIV', 'AND',
	'OR', 'SHL', 'NOT', 'POPCOUNT', 'EQ', 'REST']
BINOPS = {'+': 'ADD', '-': 'SUB', '*': 'MUL', '/': 'DIV', '&': 'AND',
	  '|': 'OR', '<<': 'SHL'}

MAX_SLOTS = 64		# PROTO_MAX_SLOTS
MAX_STACK = 8		# PROTO_X_STACK
MAX_DEPTH = 8		# PROTO_MAX_DEPTH (nested loops)
X_REST = 0xffffffff	# PROTO_LIST_REST: "the rest of the message"

IGNORED = {'doc', 'required_start_align'}

GEN = None	# the running generation (for has_field's value lists)


class GenError(Exception):
	"""A construct the generator does not understand."""


def fail(where, msg):
	raise GenError('%s: %s' % (where, msg))


# Descriptions xcb-proto lacks, written from the protocol specifications.
# XKEYBOARD's keyboard geometry is commented out in xkb.xml ("Property and
# doodads are broken"): GetGeometry, SetGeometry and the geometry part of
# GetKbdByName's reply carry atoms (shape, section, doodad, overlay names)
# that must be translated.  Geometry wire format (XKBproto, "Keyboard
# Geometry"): counted strings are a CARD16 length, the bytes, and padding to
# 4; a doodad is 20 bytes (name, type, priority, top, left, angle, 8 bytes by
# type), text doodads add two counted strings (text, font) and logo doodads
# one (logo name).  Each addition is used only while the XML lacks it.
XKB_GEOMETRY_STRUCTS = '''<xcb>
	<struct name="XckptGeomProperty">
		<field name="name" type="CountedString16" />
		<field name="value" type="CountedString16" />
	</struct>
	<struct name="XckptGeomDoodad">
		<field name="name" type="ATOM" />
		<field name="type" type="CARD8" enum="DoodadType" />
		<field name="priority" type="CARD8" />
		<field name="top" type="INT16" />
		<field name="left" type="INT16" />
		<field name="angle" type="INT16" />
		<pad bytes="8" />
		<switch name="strings">
			<fieldref>type</fieldref>
			<case>
				<enumref ref="DoodadType">Text</enumref>
				<field name="text" type="CountedString16" />
				<field name="font" type="CountedString16" />
			</case>
			<case>
				<enumref ref="DoodadType">Logo</enumref>
				<field name="logoName" type="CountedString16" />
			</case>
		</switch>
	</struct>
	<struct name="XckptGeomSection">
		<field name="name" type="ATOM" />
		<field name="top" type="INT16" />
		<field name="left" type="INT16" />
		<field name="width" type="CARD16" />
		<field name="height" type="CARD16" />
		<field name="angle" type="INT16" />
		<field name="priority" type="CARD8" />
		<field name="nRows" type="CARD8" />
		<field name="nDoodads" type="CARD8" />
		<field name="nOverlays" type="CARD8" />
		<pad bytes="2" />
		<list name="rows" type="Row"><fieldref>nRows</fieldref></list>
		<list name="doodads" type="XckptGeomDoodad">
			<fieldref>nDoodads</fieldref>
		</list>
		<list name="overlays" type="Overlay">
			<fieldref>nOverlays</fieldref>
		</list>
	</struct>
</xcb>'''

# The geometry lists after labelFont, in GetGeometry, SetGeometry and
# GetKbdByName.
XKB_GEOMETRY_LISTS = '''
	<list name="properties" type="XckptGeomProperty">
		<fieldref>nProperties</fieldref>
	</list>
	<list name="colors" type="CountedString16">
		<fieldref>nColors</fieldref>
	</list>
	<list name="shapes" type="Shape"><fieldref>nShapes</fieldref></list>
	<list name="sections" type="XckptGeomSection">
		<fieldref>nSections</fieldref>
	</list>
	<list name="doodads" type="XckptGeomDoodad">
		<fieldref>nDoodads</fieldref>
	</list>
	<list name="keyAliases" type="KeyAlias">
		<fieldref>nKeyAliases</fieldref>
	</list>
'''

XKB_GEOMETRY_REQUESTS = '''<xcb>
	<request name="GetGeometry" opcode="19">
		<field name="deviceSpec" type="DeviceSpec" />
		<pad bytes="2" />
		<field name="name" type="ATOM" />
		<reply>
			<field name="deviceID" type="CARD8" />
			<field name="name" type="ATOM" />
			<field name="found" type="BOOL" />
			<pad bytes="1" />
			<field name="widthMM" type="CARD16" />
			<field name="heightMM" type="CARD16" />
			<field name="nProperties" type="CARD16" />
			<field name="nColors" type="CARD16" />
			<field name="nShapes" type="CARD16" />
			<field name="nSections" type="CARD16" />
			<field name="nDoodads" type="CARD16" />
			<field name="nKeyAliases" type="CARD16" />
			<field name="baseColorNdx" type="CARD8" />
			<field name="labelColorNdx" type="CARD8" />
			<switch name="geometry">
				<fieldref>found</fieldref>
				<case>
					<value>1</value>
					<field name="labelFont" type="CountedString16" />
					%(lists)s
				</case>
			</switch>
		</reply>
	</request>
	<request name="SetGeometry" opcode="20">
		<field name="deviceSpec" type="DeviceSpec" />
		<field name="nShapes" type="CARD8" />
		<field name="nSections" type="CARD8" />
		<field name="name" type="ATOM" />
		<field name="widthMM" type="CARD16" />
		<field name="heightMM" type="CARD16" />
		<field name="nProperties" type="CARD16" />
		<field name="nColors" type="CARD16" />
		<field name="nDoodads" type="CARD16" />
		<field name="nKeyAliases" type="CARD16" />
		<field name="baseColorNdx" type="CARD8" />
		<field name="labelColorNdx" type="CARD8" />
		<pad bytes="2" />
		<field name="labelFont" type="CountedString16" />
		%(lists)s
	</request>
</xcb>''' % {'lists': XKB_GEOMETRY_LISTS}


def supplement_xkb(root):
	"""Adds the keyboard geometry descriptions to xkb.xml's ROOT while
	the XML lacks them."""
	have = dict((e.get('opcode'), e) for e in root.findall('request'))
	for e in ET.fromstring(XKB_GEOMETRY_STRUCTS):
		root.append(e)
	for e in ET.fromstring(XKB_GEOMETRY_REQUESTS):
		if e.get('opcode') not in have:
			root.append(e)
	gbn = have.get('23')
	geo = None
	if gbn is not None:
		for bc in gbn.iter('bitcase'):
			if bc.get('name') == 'geometry':
				geo = bc
	if geo is None:
		raise GenError('xkb: GetKbdByName has no geometry bitcase')
	kids = [k for k in geo if k.tag != 'doc']
	if kids[-1].get('name') == 'labelFont':
		for e in ET.fromstring('<x>' + XKB_GEOMETRY_LISTS + '</x>'):
			geo.append(e)
	elif not any(k.get('name') == 'keyAliases' for k in kids):
		raise GenError('xkb: GetKbdByName geometry ends with %s' %
			       kids[-1].get('name'))


class Module:
	"""One parsed XML file: its types, enums and messages."""

	def __init__(self, name, root):
		self.name = name
		self.root = root
		self.imports = [e.text.strip() for e in root.findall('import')]
		self.types = {}		# name -> element (struct, union, ...)
		self.enums = {}		# name -> {item: value}
		self.requests = {}	# opcode -> element
		self.events = {}	# (number, xge) -> (name, element, xge)
		self.errors = {}	# number -> (name, element or None)
		evs = {}
		errs = {}
		for e in root:
			t = e.tag
			if t in ('struct', 'union', 'xidtype', 'xidunion',
				 'eventstruct'):
				self.types[e.get('name')] = e
			elif t == 'typedef':
				self.types[e.get('newname')] = e
			elif t == 'enum':
				self.enums[e.get('name')] = self.enum_values(e)
			elif t == 'request':
				self.requests[int(e.get('opcode'))] = e
			elif t == 'event':
				evs[e.get('name')] = e
			elif t == 'error':
				errs[e.get('name')] = e
		for e in root:
			if e.tag in ('event', 'eventcopy'):
				ref = evs[e.get('ref')] if e.tag == 'eventcopy' \
					else e
				xge = ref.get('xge') == 'true'
				# Generic Event types and event numbers are
				# separate spaces (XInput uses both).
				key = (int(e.get('number')), xge)
				if key in self.events:
					fail(name, 'event %d defined twice' %
					     key[0])
				self.events[key] = (e.get('name'), ref, xge)
			elif e.tag in ('error', 'errorcopy'):
				self.errors[int(e.get('number'))] = (
					e.get('name'), e)
			elif e.tag not in ('struct', 'union', 'xidtype',
					   'xidunion', 'eventstruct', 'typedef',
					   'enum', 'request', 'import', 'doc'):
				fail(name, 'unknown top-level element <%s>' % e.tag)

	@staticmethod
	def enum_values(e):
		"""The items of enum element E as a dict name -> value."""
		vals = {}
		for it in e.findall('item'):
			v = it.find('value')
			b = it.find('bit')
			if v is not None:
				vals[it.get('name')] = int(v.text, 0)
			elif b is not None:
				vals[it.get('name')] = 1 << int(b.text, 0)
		return vals


class Gen:
	"""The whole generation: modules, shared expression and op storage."""

	def __init__(self, xml_dir):
		self.mods = {}
		self.xml_dir = xml_dir
		for name, _ in MODULES:
			self.load(name)
		self.exprs = []		# all expression words
		self.expr_index = {}	# tuple(words) -> index
		self.vlists = []	# value-list kind tables, 32 bytes each
		self.vlist_index = {}	# tuple(kinds) -> offset in vlists
		self.progs = []		# (c name, [ops])
		self.prog_index = {}	# tuple(ops) -> c name

	def load(self, name):
		"""Parses module NAME and its imports (once)."""
		if name in self.mods:
			return self.mods[name]
		path = os.path.join(self.xml_dir, name + '.xml')
		try:
			root = ET.parse(path).getroot()
		except (OSError, ET.ParseError) as e:
			raise GenError('%s: %s' % (path, e))
		if name == 'xkb':
			supplement_xkb(root)
		m = Module(name, root)
		self.mods[name] = m
		for i in m.imports:
			self.load(i)
		return m

	def lookup(self, mod, name):
		"""(module, element) defining type NAME as seen from MOD."""
		if ':' in name:
			mname, name = name.split(':', 1)
			m = self.mods.get(mname)
			if m and name in m.types:
				return m, m.types[name]
			return None, None
		if name in mod.types:
			return mod, mod.types[name]
		for i in mod.imports:
			m = self.mods[i]
			if name in m.types:
				return m, m.types[name]
		return None, None

	def enum_value(self, mod, ename, item, where):
		"""The value of ENAME's ITEM as seen from MOD."""
		if ':' in ename:
			mname, ename = ename.split(':', 1)
			cands = [self.mods[mname]]
		else:
			cands = [mod] + [self.mods[i] for i in mod.imports]
		for m in cands:
			if ename in m.enums and item in m.enums[ename]:
				return m.enums[ename][item]
		fail(where, 'unknown enum item %s.%s' % (ename, item))

	def resolve(self, mod, name, where):
		"""What type NAME is: ('prim', size, kind) or
		('struct'|'union'|'eventstruct', module, element)."""
		if name in PRIMS:
			return ('prim', PRIMS[name], 'NONE')
		m, e = self.lookup(mod, name)
		if e is None:
			fail(where, 'unknown type %s' % name)
		base = name.split(':')[-1]
		own = TYPE_KINDS.get(m.name, {}).get(base)
		if e.tag in ('xidtype', 'xidunion'):
			return ('prim', 4, own or 'XID')
		if e.tag == 'typedef':
			r = self.resolve(m, e.get('oldname'), where)
			if own:
				if r[0] != 'prim' or r[1] != 4:
					fail(where, 'kind on non-CARD32 %s' % name)
				return ('prim', 4, own)
			return r
		if e.tag in ('struct', 'union', 'eventstruct'):
			return (e.tag, m, e)
		fail(where, 'type %s is a <%s>' % (name, e.tag))

	def expr_add(self, words):
		"""Index of expression WORDS (with END) in the shared array."""
		words = tuple(words) + (XOPS.index('END'),)
		if words not in self.expr_index:
			self.expr_index[words] = len(self.exprs)
			self.exprs.extend(words)
		return self.expr_index[words]

	def vlist_add(self, kinds):
		"""Offset of value-list kind table KINDS (32 entries)."""
		key = tuple(kinds)
		if key not in self.vlist_index:
			self.vlist_index[key] = len(self.vlists)
			self.vlists.extend(kinds)
		return self.vlist_index[key]

	def prog_add(self, ops, hint):
		"""C name of op program OPS in the shared program list."""
		key = tuple(ops)
		if key not in self.prog_index:
			cname = 'proto_ops_%d' % len(self.progs)
			self.prog_index[key] = cname
			self.progs.append((cname, ops, hint))
		return self.prog_index[key]


class Scope:
	"""Names of fields read into slots, for one struct or message level."""

	def __init__(self, parent=None, container=None, mod=None):
		self.parent = parent
		self.names = {}		# field name -> slot
		self.lists = {}		# list name -> sumof accumulator slots
		self.container = container	# struct/request name (FIELD_KINDS)
		self.mod = mod

	def find(self, name):
		s = self
		while s:
			if name in s.names:
				return s.names[name]
			s = s.parent
		return None


class MsgCompiler:
	"""Compiles one message into an op tree, then flat ops."""

	def __init__(self, gen, mod, where, referenced, sums, is_request):
		self.gen = gen
		self.mod = mod
		self.where = where
		self.referenced = referenced	# names some expression reads
		self.sums = sums		# list name -> [sumof elements]
		self.is_request = is_request
		self.nslots = 1			# slot 0: the length field
		self.depth = 0
		self.maxdepth = 0
		self.req_name = None
		self.cur = 0
		self.has_fd = False
		self.in_reply = False

	def slot(self):
		s = self.nslots
		self.nslots += 1
		if s >= MAX_SLOTS:
			fail(self.where, 'more than %d slots' % MAX_SLOTS)
		return s

	# ---- expressions -------------------------------------------------

	def expr(self, e, scope, elem_slot=None):
		"""RPN words of expression element E."""
		t = e.tag
		if t == 'value':
			v = int(e.text, 0) & 0xffffffff
			if v < (1 << 24):
				return [XOPS.index('CONST') | v << 8]
			return [XOPS.index('CONSTW'), v]
		if t == 'fieldref' or t == 'paramref':
			name = e.text.strip()
			s = scope.find(name)
			if s is None:
				if name == 'length':
					s = 0
				else:
					fail(self.where, 'unresolved field %s' % name)
			return [XOPS.index('SLOT') | s << 8]
		if t == 'enumref':
			v = self.gen.enum_value(self.mod, e.get('ref'),
						e.text.strip(), self.where)
			return self.expr(ET.fromstring('<value>%d</value>' % v),
					 scope)
		if t == 'op':
			kids = [k for k in e]
			if len(kids) != 2 or e.get('op') not in BINOPS:
				fail(self.where, 'bad <op %s>' % e.get('op'))
			return (self.expr(kids[0], scope, elem_slot) +
				self.expr(kids[1], scope, elem_slot) +
				[XOPS.index(BINOPS[e.get('op')])])
		if t == 'unop':
			kids = [k for k in e]
			if len(kids) != 1 or e.get('op') != '~':
				fail(self.where, 'bad <unop %s>' % e.get('op'))
			return (self.expr(kids[0], scope, elem_slot) +
				[XOPS.index('NOT')])
		if t == 'popcount':
			kids = [k for k in e]
			if len(kids) != 1:
				fail(self.where, 'bad <popcount>')
			return (self.expr(kids[0], scope, elem_slot) +
				[XOPS.index('POPCOUNT')])
		if t == 'listelement-ref':
			if elem_slot is None:
				fail(self.where, '<listelement-ref> outside sumof')
			return [XOPS.index('SLOT') | elem_slot << 8]
		if t == 'sumof':
			acc = self.find_sum(scope, e.get('ref'), e)
			return [XOPS.index('SLOT') | acc << 8]
		fail(self.where, 'unknown expression <%s>' % t)

	def find_sum(self, scope, lname, e):
		s = scope
		while s:
			if lname in s.lists and id(e) in s.lists[lname]:
				return s.lists[lname][id(e)]
			s = s.parent
		fail(self.where, 'sumof over unknown list %s' % lname)

	def depth_of(self, words):
		"""Checks that WORDS fit the walker's expression stack."""
		d = 0
		m = 0
		i = 0
		while i < len(words):
			c = words[i] & 0xff
			name = XOPS[c]
			if name in ('CONST', 'SLOT', 'REST'):
				d += 1
			elif name == 'CONSTW':
				d += 1
				i += 1
			elif name in ('NOT', 'POPCOUNT'):
				pass
			else:
				d -= 1
			m = max(m, d)
			i += 1
		if m > MAX_STACK:
			fail(self.where, 'expression too deep')

	def xidx(self, words):
		self.depth_of(words)
		return self.gen.expr_add(words)

	# ---- the op tree -------------------------------------------------
	#
	# Nodes: ('field', off, kind) ('read', off, size, slot)
	# ('adv', n) ('align', n) ('reqhdr',) ('eval', slot, x) ('acc', slot, x)
	# ('list', kind, size, x) ('loop', x, body) ('slen', x)
	# ('if', x, body) ('fail',) ('end',).
	# 'off' is relative to the static cursor CUR, kept in self.cur and
	# flushed with an 'adv' before anything variable.

	def flush(self, out):
		if self.cur:
			out.append(('adv', self.cur))
			self.cur = 0

	def prim_field(self, out, scope, name, size, kind, container):
		"""Emits one primitive field at the static cursor."""
		fk = FIELD_KINDS.get((self.mod.name, container, name))
		if fk:
			if size != 4:
				fail(self.where, 'override on %d-byte %s' %
				     (size, name))
			kind = fk
		if name is not None and name in self.referenced:
			if size not in (1, 2, 4):
				fail(self.where, 'reference to %d-byte %s' %
				     (size, name))
			s = self.slot()
			scope.names[name] = s
			out.append(('read', self.cur, size, s))
		if kind != 'NONE':
			if size != 4:
				fail(self.where, '%s field %s of size %d' %
				     (kind, name, size))
			out.append(('field', self.cur, kind))
		self.cur += size

	def items(self, elts, out, scope, container, mod=None):
		"""Compiles the field elements ELTS (a struct or message body)."""
		saved = self.mod
		if mod is not None:
			self.mod = mod
		for e in elts:
			self.item(e, out, scope, container, elts)
		self.mod = saved

	def item(self, e, out, scope, container, siblings):
		t = e.tag
		if t in IGNORED:
			return
		if t == 'pad':
			if e.get('align'):
				self.flush(out)
				n = int(e.get('align'))
				if n not in (1, 2, 4, 8):
					fail(self.where, 'align %d' % n)
				out.append(('align', n))
			else:
				self.cur += int(e.get('bytes'))
			return
		if t == 'fd':
			self.has_fd = True	# passed with SCM_RIGHTS: no bytes
			return
		if t in ('field', 'exprfield'):
			self.typed_field(e, out, scope, container)
			return
		if t == 'list':
			self.list_item(e, out, scope, container, siblings)
			return
		if t == 'switch':
			self.switch_item(e, out, scope, container)
			return
		if t == 'length':
			fail(self.where, '<length> outside a list element')
		fail(self.where, 'unknown element <%s>' % t)

	def typed_field(self, e, out, scope, container):
		r = self.gen.resolve(self.mod, e.get('type'), self.where)
		name = e.get('name')
		if r[0] == 'prim':
			self.prim_field(out, scope, name, r[1], r[2], container)
		elif r[0] == 'struct':
			# An inline struct: its fields, in its own scope.
			sub = Scope(scope, r[2].get('name'), r[1])
			if r[2].find('length') is not None:
				fail(self.where, 'inline struct with <length>')
			self.items(list(r[2]), out, sub, r[2].get('name'),
				   r[1])
		elif r[0] == 'union':
			self.union_field(r[1], r[2], out, scope)
		elif r[0] == 'eventstruct':
			self.cur += 32	# an embedded event: a proxy hook
		else:
			fail(self.where, 'field of type %s' % e.get('type'))

	def static_size(self, mod, e):
		"""Size of struct/union element E, or None when variable."""
		size = 0
		sizes = []
		for f in e:
			t = f.tag
			if t in IGNORED:
				continue
			if t == 'pad' and not f.get('align'):
				n = int(f.get('bytes'))
			elif t in ('field', 'exprfield'):
				r = self.gen.resolve(mod, f.get('type'),
						     self.where)
				if r[0] == 'prim':
					n = r[1]
				elif r[0] == 'eventstruct':
					n = 32
				else:
					n = self.static_size(r[1], r[2])
			elif t == 'list':
				x = [k for k in f]
				if len(x) != 1 or x[0].tag != 'value':
					return None
				r = self.gen.resolve(mod, f.get('type'),
						     self.where)
				es = r[1] if r[0] == 'prim' else \
					self.static_size(r[1], r[2])
				n = None if es is None else \
					es * int(x[0].text, 0)
			else:
				return None
			if n is None:
				return None
			sizes.append(n)
			size += n
		return max(sizes or [0]) if e.tag == 'union' else size

	def translates(self, mod, e):
		"""Whether struct/union E holds a translated field."""
		for f in e:
			if f.tag not in ('field', 'exprfield', 'list'):
				if f.tag in ('switch', 'bitcase', 'case'):
					if self.translates(mod, f):
						return True
				continue
			if (mod.name, e.get('name'), f.get('name')) in \
			   FIELD_KINDS:
				return True
			r = self.gen.resolve(mod, f.get('type'), self.where)
			if r[0] == 'prim':
				if r[2] != 'NONE':
					return True
			elif r[0] in ('struct', 'union') and \
			     self.translates(r[1], r[2]):
				return True
		return False

	def union_field(self, mod, e, out, scope):
		size = self.static_size(mod, e)
		if size is None:
			fail(self.where, 'variable-size union %s' % e.get('name'))
		arms = []
		if not self.translates(mod, e):
			self.cur += size
			return
		for i, f in enumerate([f for f in e if f.tag not in IGNORED]):
			body = []
			save = self.cur
			self.cur = 0
			sub = Scope(scope, e.get('name'), mod)
			self.items([f], body, sub, e.get('name'), mod)
			self.cur = save
			if any(n[0] not in ('field', 'read') for n in body):
				fail(self.where, 'union %s holds translated '
				     'fields in a member that is not a plain '
				     'struct' % e.get('name'))
			if any(n[0] == 'field' for n in body):
				arms.append((i, body))
		if arms:
			sel = UNION_SELECTORS.get((mod.name, e.get('name')))
			if sel is None:
				fail(self.where, 'union %s holds translated '
				     'fields and has no selector rule' %
				     e.get('name'))
			s = scope.find(sel)
			if s is None:
				fail(self.where, 'union selector %s unread' % sel)
			self.flush(out)
			for i, body in arms:
				out.append(('ifeq', s, i, [n for n in body
							   if n[0] == 'field']))
		self.cur += size

	def count_expr(self, e, scope, siblings):
		"""Expression index of list E's count, or X_REST."""
		kids = [k for k in e if k.tag not in IGNORED]
		if len(kids) > 1:
			fail(self.where, 'list %s with two lengths' %
			     e.get('name'))
		if kids:
			return self.xidx(self.expr(kids[0], scope))
		# No count: the rest of the message (last item of a request
		# or reply).
		rest = [s for s in siblings[siblings.index(e) + 1:]
			if s.tag not in IGNORED and not
			(s.tag == 'pad' and s.get('align'))]
		if rest or not (self.is_request or self.in_reply) or \
		   self.depth or scope.parent is not None:
			fail(self.where, 'list %s has no length' % e.get('name'))
		return X_REST

	def list_item(self, e, out, scope, container, siblings):
		name = e.get('name')
		r = self.gen.resolve(self.mod, e.get('type'), self.where)
		x = self.count_expr(e, scope, siblings)
		sums = self.sums.get(name, [])
		kids = [k for k in e if k.tag not in IGNORED]
		if not sums and len(kids) == 1 and kids[0].tag == 'value':
			# A constant count: a static run of bytes.
			n = int(kids[0].text, 0)
			if r[0] == 'prim':
				if r[2] != 'NONE' and r[1] != 4:
					fail(self.where, 'list of %d-byte IDs' %
					     r[1])
				for i in range(n):
					if r[2] != 'NONE':
						out.append(('field', self.cur,
							    r[2]))
					self.cur += r[1]
				return
			if r[0] in ('struct', 'union'):
				size = self.static_size(r[1], r[2])
				if size is not None and \
				   not self.translates(r[1], r[2]):
					self.cur += n * size
					return
		self.flush(out)
		if r[0] == 'prim' and not sums:
			if r[2] != 'NONE' and r[1] != 4:
				fail(self.where, 'list of %d-byte IDs' % r[1])
			out.append(('list', r[2], r[1], x))
			return
		if r[0] == 'eventstruct' and not sums:
			out.append(('list', 'NONE', 32, x))
			return
		if r[0] == 'union' and not sums:
			size = self.static_size(r[1], r[2])
			if size is None or self.translates(r[1], r[2]):
				fail(self.where, 'list of union %s' %
				     e.get('type'))
			out.append(('list', 'NONE', size, x))
			return
		if r[0] not in ('prim', 'struct'):
			fail(self.where, 'list of %s' % e.get('type'))
		accs = {}
		for se in sums:
			accs[id(se)] = self.slot()
			out.append(('eval', accs[id(se)],
				    self.xidx([XOPS.index('CONST')])))
		if x == X_REST:
			if r[0] == 'prim':
				fail(self.where, 'sumof over rest list')
			size = self.static_size(r[1], r[2])
			if not size:
				fail(self.where, 'rest list of variable or '
				     'empty structs')
		# The element body.
		self.depth += 1
		self.maxdepth = max(self.maxdepth, self.depth)
		if self.depth > MAX_DEPTH:
			fail(self.where, 'lists nested too deep')
		body = []
		save = self.cur
		self.cur = 0
		if r[0] == 'prim':
			sub = Scope(scope, container, self.mod)
			es = self.slot()
			body.append(('read', 0, r[1], es))
			if r[2] != 'NONE':
				body.append(('field', 0, r[2]))
			self.cur = r[1]
			for se in sums:
				kids = [k for k in se if k.tag not in IGNORED]
				w = self.expr(kids[0], sub, es) if kids else \
					[XOPS.index('SLOT') | es << 8]
				body.append(('acc', accs[id(se)], self.xidx(w)))
			self.flush(body)
		else:
			smod, se_ = r[1], r[2]
			sub = Scope(scope, se_.get('name'), smod)
			saved = self.mod
			self.mod = smod
			lenx = None
			fields = []
			for f in se_:
				if f.tag == 'length':
					kids = [k for k in f]
					lenx = kids[0]
				else:
					fields.append(f)
			for f in fields:
				self.item(f, body, sub, se_.get('name'), fields)
			self.flush(body)
			if lenx is not None:
				body.append(('slen', self.xidx(
					self.expr(lenx, sub))))
			for se in sums:
				kids = [k for k in se if k.tag not in IGNORED]
				if not kids:
					fail(self.where, 'sumof over structs '
					     'without an expression')
				body.append(('acc', accs[id(se)], self.xidx(
					self.expr(kids[0], sub))))
			self.mod = saved
		self.cur = save
		self.depth -= 1
		scope.lists[name] = accs
		# A body of fixed size with no reads, sums or struct lengths is
		# a plain list.
		simple = all(n[0] in ('adv', 'field') for n in body)
		if simple and not sums:
			size = sum(n[1] for n in body if n[0] == 'adv')
			fields = [n for n in body if n[0] == 'field']
			if not fields:
				out.append(('list', 'NONE', size, x))
				return
			if len(fields) == 1 and fields[0][1] == 0:
				# One ID at the start of each element.
				out.append(('list', fields[0][2], size, x))
				return
		if x == X_REST:
			# The walker counts (message length - POS) / size.
			x = self.xidx([XOPS.index('REST') | size << 8])
		# The walker refuses counts above the bytes left, which is
		# right only when every element takes a byte at least.
		if self.min_size(body, 0) == 0:
			fail(self.where, 'list %s of possibly empty elements' %
			     name)
		out.append(('loop', x, body))

	def const_of(self, v):
		"""The value of a <value> or <enumref> element V."""
		w = self.expr(v, None)
		return (w[0] >> 8) if len(w) == 1 else w[1]

	def switch_item(self, e, out, scope, container):
		kids = [k for k in e if k.tag not in IGNORED]
		if not kids or kids[0].tag in ('bitcase', 'case'):
			fail(self.where, 'switch %s without expression' %
			     e.get('name'))
		sx = self.expr(kids[0], scope)
		self.flush(out)
		if len(sx) == 1 and XOPS[sx[0] & 0xff] == 'SLOT':
			s = sx[0] >> 8
		else:
			s = self.slot()
			out.append(('eval', s, self.xidx(sx)))
		cases = []
		for c in kids[1:]:
			if c.tag not in ('bitcase', 'case'):
				fail(self.where, 'switch child <%s>' % c.tag)
			vals = []
			rest = []
			for k in c:
				if k.tag in ('enumref', 'value'):
					vals.append(self.const_of(k))
				elif k.tag not in IGNORED:
					rest.append(k)
			if not vals:
				fail(self.where, 'case without a value')
			body = []
			# Bitcase fields share the enclosing scope.
			self.items(rest, body, scope, container)
			self.flush(body)
			cases.append((c.tag, vals, body))
		vl = self.value_list(cases)
		if vl is not None:
			out.append(('vlist', s, vl))
			return
		for tag, vals, body in cases:
			if tag == 'bitcase':
				mask = 0
				for v in vals:
					mask |= v
				out.append(('ifbits', s, mask, body))
			elif len(vals) == 1:
				out.append(('ifeq', s, vals[0], body))
			else:
				cx = []
				for i, v in enumerate(vals):
					cx += [XOPS.index('SLOT') | s << 8] + \
						self.expr(ET.fromstring(
							'<value>%d</value>' % v),
							scope) + [XOPS.index('EQ')]
					if i:
						cx.append(XOPS.index('OR'))
				out.append(('if', self.xidx(cx), body))

	def value_list(self, cases):
		"""The index of a value-list kind table for CASES when they are
		a plain X value list (one 4-byte value per mask bit, in bit
		order), else None."""
		kinds = [0xff] * 32
		last = -1
		for tag, vals, body in cases:
			if tag != 'bitcase' or len(vals) != 1:
				return None
			v = vals[0]
			if v == 0 or v & (v - 1):
				return None
			bit = v.bit_length() - 1
			if bit <= last:
				return None
			last = bit
			if body == [('adv', 4)]:
				kinds[bit] = 0
			elif len(body) == 2 and body[0][0] == 'field' and \
			     body[0][1] == 0 and body[1] == ('adv', 4):
				kinds[bit] = KINDS.index(body[0][2])
			else:
				return None
		return self.gen.vlist_add(kinds)

	# ---- whole messages ------------------------------------------------

	def compile(self, kind, e, core):
		"""Op tree and minimum size of message element E of KIND
		('request', 'reply', 'event', 'xge')."""
		self.cur = 0
		self.has_fd = False
		self.in_reply = kind == 'reply'
		out = []
		scope = Scope(None, e.get('name') if kind == 'request'
			      else (self.req_name if kind == 'reply'
				    else e.get('name')), self.mod)
		fields = [f for f in e if f.tag not in IGNORED and
			  f.tag != 'reply']
		container = scope.container
		first_in_byte1 = (kind == 'request' and core) or \
			kind == 'reply' or \
			(kind == 'event' and e.get('no-sequence-number') !=
			 'true')
		if kind == 'event' and e.get('no-sequence-number') == 'true':
			self.cur = 1
		elif first_in_byte1:
			# Like libxcb: the first child takes byte 1 (when there
			# is one); it must be 1 byte long.
			self.cur = 1
			if fields:
				if fields[0].tag not in ('field', 'exprfield',
							 'pad'):
					fail(self.where, 'first child <%s> '
					     'cannot sit in byte 1' %
					     fields[0].tag)
				self.item(fields[0], out, scope, container,
					  fields)
				if self.cur != 2 or any(n[0] not in (
						'read', 'field') for n in out):
					fail(self.where, 'first field is not '
					     '1 byte long')
				fields = fields[1:]
			if kind == 'request':
				self.cur = 0
				out.append(('reqhdr',))
			elif kind == 'reply':
				self.cur = 8
			else:
				self.cur = 4
		elif kind == 'request':
			out.append(('reqhdr',))
		elif kind == 'xge':
			self.cur = 10
		elif kind == 'setup':
			self.cur = 0
		for f in fields:
			self.item(f, out, scope, container, fields)
		self.flush(out)
		return out

	def min_size(self, tree, base):
		"""A lower bound on the size of a message with op tree TREE."""
		size = base
		for n in tree:
			if n[0] == 'adv':
				size += n[1]
			elif n[0] == 'list' and n[3] != X_REST:
				w = self.gen.exprs[n[3]]
				if XOPS[w & 0xff] == 'CONST' and \
				   XOPS[self.gen.exprs[n[3] + 1] & 0xff] == 'END':
					size += (w >> 8) * n[2]
		return size


# Every element the translated modules may use (<doc> subtrees are skipped).
KNOWN_TAGS = {
	'import', 'struct', 'union', 'xidtype', 'xidunion', 'typedef', 'enum',
	'item', 'value', 'bit', 'request', 'reply', 'event', 'eventcopy',
	'error', 'errorcopy', 'field', 'exprfield', 'pad', 'list', 'switch',
	'bitcase', 'case', 'fieldref', 'paramref', 'enumref', 'op', 'unop',
	'popcount', 'sumof', 'listelement-ref', 'length', 'fd', 'eventstruct',
	'allowed', 'required_start_align', 'type',
}


def validate(gen, mod):
	"""Checks every element of MOD, used by a message or not: known
	elements, known operators, resolvable types."""
	def walk(e, where):
		for k in e:
			if k.tag == 'doc':
				continue
			if k.tag not in KNOWN_TAGS:
				fail(where, 'unknown element <%s>' % k.tag)
			if k.tag == 'op' and k.get('op') not in BINOPS:
				fail(where, 'unknown operator %s' % k.get('op'))
			if k.tag == 'unop' and k.get('op') != '~':
				fail(where, 'unknown operator %s' % k.get('op'))
			if k.tag in ('field', 'exprfield', 'list') and \
			   k.get('type'):
				gen.resolve(mod, k.get('type'), where)
			if k.tag == 'typedef':
				gen.resolve(mod, k.get('oldname'), where)
			walk(k, '%s %s' % (where, k.get('name') or k.tag)
			     if e is mod.root else where)
	walk(mod.root, mod.name)


def has_field(tree):
	"""Whether op tree TREE visits any field."""
	for n in tree:
		if n[0] == 'field':
			return True
		if n[0] == 'list' and n[1] != 'NONE':
			return True
		if n[0] in ('loop', 'if') and has_field(n[2]):
			return True
		if n[0] in ('ifbits', 'ifeq') and has_field(n[3]):
			return True
		if n[0] == 'vlist' and any(k not in (0, 0xff) for k in
					   GEN.vlists[n[2]:n[2] + 32]):
			return True
	return False


def trim(tree):
	"""TREE without the trailing nodes that visit nothing."""
	last = -1
	for i, n in enumerate(tree):
		if has_field([n]):
			last = i
	tree = tree[:last + 1]
	if tree and tree[-1][0] == 'if':
		n = tree[-1]
		tree[-1] = ('if', n[1], trim(n[2]))
	elif tree and tree[-1][0] in ('ifbits', 'ifeq'):
		n = tree[-1]
		tree[-1] = (n[0], n[1], n[2], trim(n[3]))
	return tree


def expr_slots(x):
	"""The slots expression X (an index into GEN.exprs) reads."""
	used = set()
	if x == X_REST:
		return used
	i = x
	while GEN.exprs[i] & 0xff:
		w = GEN.exprs[i]
		if XOPS[w & 0xff] == 'SLOT':
			used.add(w >> 8)
		elif XOPS[w & 0xff] == 'CONSTW':
			i += 1
		i += 1
	return used


def slots_read(tree, used):
	"""Adds to USED the slots that TREE's ops read."""
	for n in tree:
		t = n[0]
		if t in ('eval', 'acc'):
			used |= expr_slots(n[2])
		elif t == 'list':
			used |= expr_slots(n[3])
		elif t in ('loop', 'if'):
			used |= expr_slots(n[1])
			slots_read(n[2], used)
		elif t == 'slen':
			used |= expr_slots(n[1])
		elif t in ('ifbits', 'ifeq'):
			used.add(n[1])
			slots_read(n[3], used)
		elif t == 'vlist':
			used.add(n[1])
		if t == 'acc':
			used.add(n[1])	# (an accumulator reads itself)
	return used


def drop_dead(tree, used):
	"""TREE without the reads, evals and sums of slots nobody reads."""
	out = []
	for n in tree:
		t = n[0]
		if t == 'read' and n[3] not in used:
			continue
		if t in ('eval', 'acc') and n[1] not in used:
			continue
		if t in ('loop', 'if'):
			n = (t, n[1], drop_dead(n[2], used))
		elif t in ('ifbits', 'ifeq'):
			n = (t, n[1], n[2], drop_dead(n[3], used))
		out.append(n)
	return out


def prune(tree):
	"""TREE without dead slot stores, to a fixed point."""
	while True:
		used = slots_read(tree, set())
		# An accumulator only feeds itself: dead unless read elsewhere.
		accs = set()
		acc_only(tree, accs)
		used -= accs
		new = drop_dead(tree, used)
		if new == tree:
			return tree
		tree = new


def acc_only(tree, accs):
	"""Adds to ACCS the accumulator slots nothing but their own ACC
	reads."""
	reads = {}
	def walk(t):
		for n in t:
			k = n[0]
			xs = []
			if k in ('eval', 'acc'):
				xs = [n[2]]
			elif k == 'list':
				xs = [n[3]]
			elif k in ('loop', 'if', 'slen'):
				xs = [n[1]]
			for x in xs:
				for sl in expr_slots(x):
					reads.setdefault(sl, set()).add(
						n[1] if k == 'acc' else None)
			if k in ('ifbits', 'ifeq', 'vlist'):
				reads.setdefault(n[1], set()).add(None)
			if k in ('loop', 'if'):
				walk(n[2])
			elif k in ('ifbits', 'ifeq'):
				walk(n[3])
			if k == 'acc':
				accs.add(n[1])
	walk(tree)
	for sl in list(accs):
		if reads.get(sl, set()) - {sl}:
			accs.discard(sl)


def flatten(tree, out):
	"""Appends TREE's flat ops (code, x, a, b) to OUT."""
	for n in tree:
		t = n[0]
		if t == 'field':
			out.append(('FIELD', KINDS.index(n[2]), n[1], 0))
		elif t == 'read':
			out.append(('READ', n[2], n[1], n[3]))
		elif t == 'adv':
			out.append(('ADV', 0, 0, n[1]))
		elif t == 'align':
			out.append(('ALIGN', 0, 0, n[1]))
		elif t == 'reqhdr':
			out.append(('REQHDR', 0, 0, 0))
		elif t == 'eval':
			out.append(('EVAL', 0, n[1], n[2]))
		elif t == 'acc':
			out.append(('ACC', 0, n[1], n[2]))
		elif t == 'list':
			if n[2] == 0:
				raise GenError('list of empty elements')
			out.append(('LIST', KINDS.index(n[1]), n[2], n[3]))
		elif t == 'slen':
			out.append(('SLEN', 0, 0, n[1]))
		elif t == 'fail':
			out.append(('FAIL', 0, 0, 0))
		elif t == 'end':
			out.append(('END', 0, 0, 0))
		elif t == 'loop':
			body = []
			flatten(n[2], body)
			body.append(('ENDLOOP', 0, len(body), 0))
			out.append(('LOOP', 0, len(body), n[1]))
			out.extend(body)
		elif t == 'if':
			body = []
			flatten(n[2], body)
			out.append(('IF', 0, len(body), n[1]))
			out.extend(body)
		elif t in ('ifbits', 'ifeq'):
			body = []
			flatten(n[3], body)
			out.append((t.upper(), n[1], len(body), n[2]))
			out.extend(body)
		elif t == 'vlist':
			out.append(('VLIST', n[1], 0, n[2]))
		else:
			raise GenError('bad node %r' % (n,))
	return out


def prescan(e, gen, mod):
	"""Names that expressions in message E read, and the sumof elements
	by list name.  Looks into the structs E uses, too."""
	refs = set(UNION_SELECTORS.values())
	sums = {}
	seen = set()

	def walk(el, m):
		for k in el.iter():
			if k.tag in ('fieldref', 'paramref'):
				refs.add(k.text.strip())
			elif k.tag == 'sumof':
				refs.add(k.get('ref'))
				sums.setdefault(k.get('ref'), []).append(k)
			elif k.tag in ('field', 'list') and k.get('type'):
				t = k.get('type')
				if t in PRIMS:
					continue
				tm, te = gen.lookup(m, t)
				while te is not None and te.tag == 'typedef':
					tm, te = gen.lookup(tm, te.get('oldname'))
				if te is not None and te.tag in ('struct',
								 'union') \
				   and id(te) not in seen:
					seen.add(id(te))
					walk(te, tm)
	walk(e, mod)
	return refs, sums


def c_str(s):
	return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


class ExtOut:
	"""The generated tables of one module."""

	def __init__(self, gen, mname, xname):
		self.gen = gen
		self.mod = gen.mods[mname]
		self.xname = xname
		self.requests = {}	# op -> msg c name
		self.replies = {}
		self.events = {}
		self.ge_events = {}
		self.xkb_events = {}
		self.msgs = []		# (c name, name, prog, min, flags, dir)
		self.error_kinds = {}
		self.setup = None	# core: the connection setup reply

	def msg(self, kind, e, name, req_name=None):
		where = '%s %s %s' % (self.mod.name, kind, name)
		refs, sums = prescan(e, self.gen, self.mod)
		c = MsgCompiler(self.gen, self.mod, where, refs, sums,
				kind == 'request')
		c.req_name = req_name
		tree = c.compile(kind, e, self.xname is None)
		base = 0
		mins = c.min_size(tree, base)
		if kind == 'request':
			mins += 4	# the header before REQHDR
		elif kind == 'reply':
			mins = max(mins, 32)
		elif kind == 'event':
			mins = 32
		elif kind == 'xge':
			mins = max(mins, 32)
		mins = (mins + 3) & ~3	# messages are whole 4-byte words
		if kind == 'request':
			mins = MIN_SIZES.get((self.mod.name, name), mins)
		tree = prune(trim(tree))
		flags = []
		if c.has_fd:
			flags.append('PROTO_MSG_FDS')
		return self.add(tree, name, mins, flags, c.nslots)

	def add(self, tree, name, mins, flags, nslots):
		ops = flatten(tree, [])
		ops.append(('END', 0, 0, 0))
		nslots = self.slots_used(ops)
		prog = self.gen.prog_add(ops, name)
		cname = 'proto_msg_%s_%d' % (self.mod.name, len(self.msgs))
		self.msgs.append((cname, name, prog, mins,
				  ' | '.join(flags) or '0', nslots))
		return cname

	def slots_used(self, ops):
		"""1 + the highest slot OPS (and their expressions) use."""
		top = 0
		for code, x, a, b in ops:
			if code == 'READ':
				top = max(top, b)
			elif code in ('EVAL', 'ACC'):
				top = max(top, a)
			elif code in ('IFBITS', 'IFEQ', 'VLIST'):
				top = max(top, x)
			if code in ('EVAL', 'ACC', 'LIST', 'LOOP', 'SLEN', 'IF') \
			   and b != X_REST:
				i = b
				while self.gen.exprs[i] & 0xff:
					w = self.gen.exprs[i]
					if XOPS[w & 0xff] == 'SLOT':
						top = max(top, w >> 8)
					elif XOPS[w & 0xff] == 'CONSTW':
						i += 1
					i += 1
		return top + 1

	def build(self):
		m = self.mod
		for op, e in sorted(m.requests.items()):
			self.requests[op] = self.msg('request', e, e.get('name'))
			r = e.find('reply')
			if r is not None:
				self.replies[op] = self.msg(
					'reply', r, e.get('name') + 'Reply',
					e.get('name') + '.reply')
		for (num, _), (name, e, xge) in sorted(m.events.items()):
			if xge and m.name == 'xproto':
				continue	# GenericEvent itself: the proxy's
			if xge:
				self.ge_events[num] = self.msg('xge', e, name)
			elif m.name == 'xkb':
				self.xkb_events[num] = self.msg('event', e, name)
			else:
				self.events[num] = self.msg('event', e, name)
		if m.name == 'xkb':
			self.xkb_dispatch()
		if m.name == 'xproto':
			self.setup = self.msg('setup', m.types['Setup'], 'Setup')
		errs = dict((n, name) for n, (name, _) in m.errors.items())
		errs.update(EXTRA_ERRORS.get(m.name, {}))
		for n, name in errs.items():
			self.error_kinds[n] = ERROR_KINDS.get(name, 'NONE')

	def xkb_dispatch(self):
		"""XKB's one event code: an IF per xkbType around each
		subtype's program, FAIL for an unknown subtype."""
		tree = [('read', 1, 1, 1)]
		total_slots = 2
		for num in sorted(self.xkb_events):
			name, e, _ = self.mod.events[(num, False)]
			where = 'xkb event %s' % name
			refs, sums = prescan(e, self.gen, self.mod)
			c = MsgCompiler(self.gen, self.mod, where, refs, sums,
					False)
			c.nslots = 2
			sub = trim(c.compile('event', e, False))
			total_slots = max(total_slots, c.nslots)
			if e.find('field').get('name') != 'xkbType':
				raise GenError(where + ': no xkbType')
			tree.append(('ifeq', 1, num, sub + [('end',)]))
		tree.append(('fail',))
		self.events[0] = self.add(tree, 'XkbEvent', 32, [],
					  total_slots)


def table(items, n, cname, ctype):
	"""C array CNAME of N entries from dict ITEMS (index -> expression)."""
	if n == 0:
		return ''
	lines = ['static const %s %s[%d] = {' % (ctype, cname, n)]
	for i in range(n):
		if i in items:
			lines.append('\t[%d] = %s,' % (i, items[i]))
	lines.append('};')
	return '\n'.join(lines) + '\n'


def write(gen, exts, out_c, out_h):
	h = []
	h.append('''/* Generated by xproxy/gen-tables.py from xcb-proto: do not edit. */
#pragma once

#include <glib.h>
#include "xproxy/proto.h"

/* Limits the walker relies on (checked by the generator). */
#define PROTO_MAX_SLOTS %d	/* field values one message may keep */
#define PROTO_X_STACK %d	/* expression stack depth */
#define PROTO_MAX_DEPTH %d	/* nested list loops */
#define PROTO_LIST_REST 0xffffffffu	/* LIST count: rest of the message */

/* Op codes (see gen-tables.py's header for their meaning). */
typedef enum {
%s
} ProtoOpCode;

/* Expression codes (low 8 bits of an expression word). */
typedef enum {
%s
} ProtoXCode;

/* One op of a message program. */
typedef struct {
	guint8 code;		/* ProtoOpCode */
	guint8 x;		/* kind (FIELD, LIST) or size (READ) */
	guint16 a;		/* offset, slot, element size or op count */
	guint32 b;		/* slot, byte count or expression index */
} ProtoOp;

/* Message flags. */
#define PROTO_MSG_FDS 0x1	/* carries file descriptors (SCM_RIGHTS) */

struct ProtoMsg {
	const char *name;	/* e.g. "CreateWindow" */
	const ProtoOp *ops;	/* the program, ending with END */
	guint32 min_size;	/* bytes every such message has at least */
	guint16 flags;		/* PROTO_MSG_* */
	guint16 n_slots;	/* slots the program uses */
};

struct ProtoExt {
	const char *xname;	/* X name, NULL for core */
	const ProtoMsg *const *requests;	/* by (minor) opcode */
	const ProtoMsg *const *replies;		/* by (minor) opcode */
	guint n_requests;	/* entries in requests and replies */
	const ProtoMsg *const *events;	/* by event number */
	guint n_events;		/* event codes the extension uses */
	const ProtoMsg *const *ge_events;	/* by Generic Event type */
	guint n_ge_events;	/* entries in ge_events */
	const ProtoMsg *const *xkb_events;	/* XKB: by xkbType */
	guint n_xkb_events;	/* entries in xkb_events */
	const guint8 *error_kinds;	/* ProtoKind by error number */
	guint n_errors;		/* error codes the extension uses */
	const ProtoMsg *setup;	/* core: the connection setup reply */
};

/* Expression words of every program. */
extern const guint32 proto_exprs[];

/* Value-list kind tables (VLIST): 32 ProtoKinds per table, 0xff for a mask
 * bit without a value. */
extern const guint8 proto_vlists[];

/* Core X11's tables, and the extensions' in a fixed order. */
extern const ProtoExt proto_tables_core;
extern const ProtoExt *const proto_tables_exts[];
extern const guint proto_tables_n_exts;
''' % (MAX_SLOTS, MAX_STACK, MAX_DEPTH,
       '\n'.join('\tPROTO_OP_%s,' % o for o in OPS),
       '\n'.join('\tPROTO_X_%s,' % o for o in XOPS)))
	c = []
	c.append('/* Generated by xproxy/gen-tables.py from xcb-proto: '
		 'do not edit. */')
	c.append('#include "proto-tables.h"\n')
	c.append('const guint32 proto_exprs[] = {')
	for i in range(0, len(gen.exprs), 8):
		c.append('\t' + ' '.join('0x%x,' % w
					 for w in gen.exprs[i:i + 8]))
	c.append('};\n')
	c.append('const guint8 proto_vlists[] = {')
	for i in range(0, len(gen.vlists), 16):
		c.append('\t' + ' '.join('%d,' % k for k in gen.vlists[i:i + 16]))
	c.append('};\n')
	for cname, ops, hint in gen.progs:
		c.append('static const ProtoOp %s[] = {\t/* %s */' %
			 (cname, hint))
		for code, x, a, b in ops:
			if a > 0xffff or b > 0xffffffff or x > 0xff:
				raise GenError('%s: op operand overflow' % hint)
			c.append('\t{ PROTO_OP_%s, %d, %d, %du },' %
				 (code, x, a, b))
		c.append('};')
	c.append('')
	for ext in exts:
		for cname, name, prog, mins, flags, nslots in ext.msgs:
			c.append('static const ProtoMsg %s = { %s, %s, %d, %s, %d };'
				 % (cname, c_str(name), prog, mins, flags,
				    nslots))
	c.append('')
	ext_names = []
	for ext in exts:
		p = 'proto_ext_%s' % ext.mod.name
		nreq = max(list(ext.requests) + [-1]) + 1
		nev = max(list(ext.events) + [-1]) + 1
		nge = max(list(ext.ge_events) + [-1]) + 1
		nxkb = max(list(ext.xkb_events) + [-1]) + 1
		nerr = max(list(ext.error_kinds) + [-1]) + 1
		ref = lambda d: dict((k, '&' + v) for k, v in d.items())
		c.append(table(ref(ext.requests), nreq, p + '_requests',
			       'ProtoMsg *const'))
		c.append(table(ref(ext.replies), nreq, p + '_replies',
			       'ProtoMsg *const'))
		c.append(table(ref(ext.events), nev, p + '_events',
			       'ProtoMsg *const'))
		c.append(table(ref(ext.ge_events), nge, p + '_ge',
			       'ProtoMsg *const'))
		c.append(table(ref(ext.xkb_events), nxkb, p + '_xkb',
			       'ProtoMsg *const'))
		c.append(table(dict((k, 'PROTO_K_' + v) for k, v in
				    ext.error_kinds.items()), nerr,
			       p + '_errors', 'guint8'))
		arr = lambda n, s: (p + s) if n else 'NULL'
		decl = 'const ProtoExt' if ext.xname is None else \
			'static const ProtoExt'
		cn = 'proto_tables_core' if ext.xname is None else p
		c.append('%s %s = {\n\t%s,\n\t%s, %s, %d,\n\t%s, %d,\n\t%s, %d,'
			 '\n\t%s, %d,\n\t%s, %d,\n\t%s,\n};\n' % (
				 decl, cn,
				 'NULL' if ext.xname is None else
				 c_str(ext.xname),
				 arr(nreq, '_requests'), arr(nreq, '_replies'),
				 nreq, arr(nev, '_events'), nev,
				 arr(nge, '_ge'), nge, arr(nxkb, '_xkb'), nxkb,
				 arr(nerr, '_errors'), nerr,
				 '&' + ext.setup if ext.setup else 'NULL'))
		if ext.xname is not None:
			ext_names.append(cn)
	c.append('const ProtoExt *const proto_tables_exts[] = {')
	for n in ext_names:
		c.append('\t&%s,' % n)
	c.append('};')
	c.append('const guint proto_tables_n_exts = %d;' % len(ext_names))
	for path, text in ((out_h, '\n'.join(h)), (out_c, '\n'.join(c) + '\n')):
		tmp = path + '.tmp'
		with open(tmp, 'w') as f:
			f.write(text)
		os.replace(tmp, path)


def dump(gen, exts, name):
	"""Prints the op programs of the messages called NAME."""
	progs = dict((c, ops) for c, ops, _ in gen.progs)
	for ext in exts:
		for cname, mname, prog, mins, flags, nslots in ext.msgs:
			if mname != name:
				continue
			print('%s %s: min %d, %d slots' % (
				ext.xname or 'core', mname, mins, nslots))
			for i, (code, x, a, b) in enumerate(progs[prog]):
				extra = ''
				if code in ('EVAL', 'ACC', 'LIST', 'LOOP', 'SLEN',
					    'IF') and b != X_REST:
					words = []
					j = b
					while gen.exprs[j] & 0xff:
						w = gen.exprs[j]
						words.append('%s %d' % (
							XOPS[w & 0xff], w >> 8))
						j += 1
					extra = '  [' + ', '.join(words) + ']'
				if code in ('FIELD', 'LIST'):
					extra = '  ' + KINDS[x] + extra
				print('  %3d %-7s x=%d a=%d b=%d%s' % (
					i, code, x, a, b, extra))


def main():
	ap = argparse.ArgumentParser(description='Generate xckpt protocol '
				     'tables from xcb-proto XML.')
	ap.add_argument('--xml-dir', required=True)
	ap.add_argument('--out-c', required=True)
	ap.add_argument('--out-h', required=True)
	ap.add_argument('--dump', metavar='NAME',
			help='also print the op programs of the messages '
			'called NAME (debugging)')
	args = ap.parse_args()
	if not args.xml_dir or not os.path.isdir(args.xml_dir):
		print('gen-tables: no xcb-proto XML directory %r (is xcb-proto '
		      'installed?)' % args.xml_dir, file=sys.stderr)
		return 1
	global GEN
	try:
		gen = Gen(args.xml_dir)
		GEN = gen
		exts = []
		for mname, xname in MODULES:
			mod = gen.mods[mname]
			if xname is not None and \
			   mod.root.get('extension-xname') != xname:
				raise GenError('%s: X name is %s, not %s' % (
					mname, mod.root.get('extension-xname'),
					xname))
			validate(gen, mod)
			e = ExtOut(gen, mname, xname)
			e.build()
			exts.append(e)
		write(gen, exts, args.out_c, args.out_h)
		if args.dump:
			dump(gen, exts, args.dump)
	except GenError as e:
		print('gen-tables: %s' % e, file=sys.stderr)
		return 1
	return 0


if __name__ == '__main__':
	sys.exit(main())
