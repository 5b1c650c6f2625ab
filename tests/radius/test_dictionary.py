"""Dictionary loader: each directive, type and flag, $INCLUDE, vendor formats, errors with their
file and line, and the shipped dictionaries."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from userman.radius import (
    DataType,
    DictionaryError,
    Encrypt,
    Vendor,
    default_dictionary,
    load_dictionary,
)


def write(tmp_path: Path, text: str, name: str = "dictionary") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


ALL_TYPES = [
    ("string", DataType.STRING),
    ("octets", DataType.OCTETS),
    ("ipaddr", DataType.IPADDR),
    ("ipv6addr", DataType.IPV6ADDR),
    ("ipv6prefix", DataType.IPV6PREFIX),
    ("ipv4prefix", DataType.IPV4PREFIX),
    ("integer", DataType.INTEGER),
    ("integer64", DataType.INTEGER64),
    ("date", DataType.DATE),
    ("byte", DataType.BYTE),
    ("short", DataType.SHORT),
    ("signed", DataType.SIGNED),
    ("ifid", DataType.IFID),
    ("ether", DataType.ETHER),
    ("tlv", DataType.TLV),
    ("combo-ip", DataType.COMBO_IP),
    ("combo-ipaddr", DataType.COMBO_IP),
    ("abinary", DataType.OCTETS),
    ("uint32", DataType.INTEGER),
    ("octets[16]", DataType.OCTETS),
]


@pytest.mark.parametrize(("text", "expected"), ALL_TYPES)
def test_every_type(tmp_path: Path, text: str, expected: DataType) -> None:
    d = load_dictionary(write(tmp_path, f"ATTRIBUTE\tX-Attr\t200\t{text}\n"))
    assert d.attribute("X-Attr").type is expected


def test_vsa_type_only_for_attribute_26(tmp_path: Path) -> None:
    d = load_dictionary(write(tmp_path, "ATTRIBUTE Vendor-Specific 26 vsa\n"))
    assert d.attribute("Vendor-Specific").type is DataType.VSA
    with pytest.raises(DictionaryError, match="vsa"):
        load_dictionary(write(tmp_path, "ATTRIBUTE Other 27 vsa\n"))


def test_attribute_lookups(tmp_path: Path) -> None:
    d = load_dictionary(
        write(
            tmp_path,
            "# comment line\n"
            "ATTRIBUTE  User-Name  1  string  # trailing comment\n"
            "ATTRIBUTE  Hex-Code  0xf0  integer\n"
            "ATTRIBUTE  Alias-Name  1  string\n",
        )
    )
    user = d.attribute("user-name")
    assert (user.name, user.code, user.vendor_id) == ("User-Name", 1, 0)
    assert d.by_code(1) is user  # the first name of a number decodes
    assert d.attribute("Alias-Name").code == 1
    assert d.attribute("Hex-Code").code == 0xF0
    assert d.find("Nope") is None
    assert d.by_code(99) is None
    assert d.lookup(99).name == "Attr-99"
    assert d.attribute("Attr-1") is user
    with pytest.raises(KeyError):
        d.attribute("Nope")
    assert len(d) == 2
    assert [a.name for a in d] == ["User-Name", "Hex-Code"]


def test_value_directive(tmp_path: Path) -> None:
    d = load_dictionary(
        write(
            tmp_path,
            "VALUE  Service-Type  Early  9\n"  # a VALUE may come before its ATTRIBUTE
            "ATTRIBUTE  Service-Type  6  integer\n"
            "VALUE  Service-Type  Login-User  1\n"
            "VALUE  Service-Type  Also-Login  1\n"
            "VALUE  Service-Type  Hex  0x10\n",
        )
    )
    st = d.attribute("Service-Type")
    assert st.values == {"Early": 9, "Login-User": 1, "Also-Login": 1, "Hex": 16}
    assert st.value_of("login-user") == 1
    assert st.value_of("missing") is None
    assert st.value_name(1) == "Login-User"  # the first name of a number
    assert st.value_name(2) is None


def test_vendor_blocks_and_formats(tmp_path: Path) -> None:
    d = load_dictionary(
        write(
            tmp_path,
            "VENDOR  Plain  100\n"
            "VENDOR  Wide   200  format=2,1\n"
            "VENDOR  NoLen  300  format=1,0\n"
            "VENDOR  Usr    429  format=4,0\n"
            "VENDOR  Long   400  format=1,2\n"
            "BEGIN-VENDOR  Plain\n"
            "ATTRIBUTE  Plain-One  1  string\n"
            "END-VENDOR  Plain\n"
            "BEGIN-VENDOR  Wide\n"
            "ATTRIBUTE  Wide-Big  65535  integer\n"
            "END-VENDOR  Wide\n"
            "BEGIN-VENDOR  Usr\n"
            "ATTRIBUTE  Usr-Big  0x9000  integer\n"
            "END-VENDOR  Usr\n"
            "ATTRIBUTE  Old-Style  7  string  NoLen\n",  # FreeRADIUS 1.x: vendor as 4th field
        )
    )
    assert d.vendor("plain") == Vendor("Plain", 100, 1, 1)
    assert d.vendor(200) == Vendor("Wide", 200, 2, 1)
    assert d.vendor("NoLen") == Vendor("NoLen", 300, 1, 0)
    assert d.vendor("Usr") == Vendor("Usr", 429, 4, 0)
    assert d.vendor("Long") == Vendor("Long", 400, 1, 2)
    assert d.vendor(999) is None
    assert [v.id for v in d.vendors] == [100, 200, 300, 400, 429]
    one = d.attribute("Plain-One")
    assert (one.vendor_id, one.code, one.vendor_format, one.oid) == (100, 1, (1, 1), "26.100.1")
    assert d.by_code(1, 100) is one
    assert d.attribute("Wide-Big").vendor_format == (2, 1)
    assert d.attribute("Usr-Big").code == 0x9000
    assert d.attribute("Old-Style").vendor_id == 300
    assert d.vendor_format(999) == (1, 1)
    assert d.lookup(5, 200).name == "Attr-26.200.5"
    assert d.lookup(5, 200).vendor_format == (2, 1)


def test_flags(tmp_path: Path) -> None:
    d = load_dictionary(
        write(
            tmp_path,
            "ATTRIBUTE  User-Password  2  string  encrypt=1\n"
            "ATTRIBUTE  Tunnel-Password  69  string  has_tag,encrypt=2\n"
            "ATTRIBUTE  Tunnel-Type  64  integer  has_tag\n"
            "ATTRIBUTE  Secret  214  octets  encrypt=3\n"
            "ATTRIBUTE  EAP-Message  79  octets  concat\n",
        )
    )
    assert d.attribute("User-Password").encrypt is Encrypt.USER_PASSWORD
    tp = d.attribute("Tunnel-Password")
    assert (tp.encrypt, tp.has_tag) == (Encrypt.TUNNEL_PASSWORD, True)
    assert d.attribute("Tunnel-Type").has_tag
    assert d.attribute("Secret").encrypt is Encrypt.ASCEND_SECRET
    assert d.attribute("EAP-Message").concat


def test_tlv_children(tmp_path: Path) -> None:
    d = load_dictionary(
        write(
            tmp_path,
            "VENDOR  V  500\n"
            "BEGIN-VENDOR  V\n"
            "ATTRIBUTE  V-Group  1  tlv\n"
            "ATTRIBUTE  V-Child  1.1  string\n"
            "ATTRIBUTE  V-Sub  1.2  tlv\n"
            "ATTRIBUTE  V-Leaf  1.2.3  integer\n"
            "END-VENDOR  V\n",
        )
    )
    group = d.attribute("V-Group")
    assert set(group.children) == {1, 2}
    assert group.children[1] is d.attribute("V-Child")
    leaf = d.attribute("V-Leaf")
    assert (leaf.parents, leaf.code, leaf.oid) == ((1, 2), 3, "26.500.1.2.3")
    assert group.child(9).name == "Attr-26.500.1.9"
    assert d.attribute("Attr-26.500.1.2.3") is leaf
    assert d.by_code(1, 500) is group


def test_include_is_relative_to_the_including_file(tmp_path: Path) -> None:
    write(tmp_path, "ATTRIBUTE  Deep  201  octets\n", "sub/more/dictionary.deep")
    write(tmp_path, "$INCLUDE more/dictionary.deep\nATTRIBUTE  Mid  202  string\n", "sub/d.mid")
    top = write(
        tmp_path,
        "$INCLUDE sub/d.mid\n$INCLUDE- sub/absent\nATTRIBUTE  Top  203  integer\n",
    )
    d = load_dictionary(top)
    assert {d.attribute(n).code for n in ("Deep", "Mid", "Top")} == {201, 202, 203}


def test_several_files_and_the_default_set(tmp_path: Path) -> None:
    a = write(tmp_path, "ATTRIBUTE  A-Attr  224  string\n", "a")
    b = write(tmp_path, "VALUE  Service-Type  Site-Special  200\n", "b")
    d = load_dictionary(a, b, include_default=True)
    assert d.attribute("A-Attr").code == 224
    assert d.attribute("Service-Type").value_of("Site-Special") == 200
    assert d.attribute("Mikrotik-Rate-Limit").vendor_id == 14988


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("ATTRIBUTE  A  1  strange\n", 1, "unknown type 'strange'"),
        ("\n\nATTRIBUTE  A  1\n", 3, "ATTRIBUTE takes"),
        ("ATTRIBUTE  A  x1  string\n", 1, "not a number"),
        ("ATTRIBUTE  A  256  string\n", 1, "out of range"),
        ("ATTRIBUTE  A  1  string  bogus\n", 1, "unknown flag 'bogus'"),
        ("ATTRIBUTE  A  1  string  encrypt=9\n", 1, "unknown encryption"),
        ("ATTRIBUTE  A  1  integer  encrypt=1\n", 1, "encrypt=1 needs"),
        ("ATTRIBUTE  A  1  ipaddr  has_tag\n", 1, "has_tag needs"),
        ("ATTRIBUTE  A  1  string\nATTRIBUTE  A  2  string\n", 2, "already defined"),
        ("ATTRIBUTE  A  1.1  string\n", 1, "no parent of type tlv"),
        ("VALUE  Nobody  X  1\n", 1, "unknown attribute 'Nobody'"),
        ("ATTRIBUTE  A  1  string\nVALUE  A  X  1\n", 2, "type string"),
        ("ATTRIBUTE  A  1  byte\nVALUE  A  X  256\n", 2, "out of range"),
        ("ATTRIBUTE  A  1  byte\nVALUE  A  X  1\nVALUE  A  X  2\n", 3, "already defined"),
        ("VALUE  A  X\n", 1, "VALUE takes"),
        ("VENDOR  V\n", 1, "VENDOR takes"),
        ("VENDOR  V  9  format=3,1\n", 1, "unsupported vendor format"),
        ("VENDOR  V  9  format=1,1,c\n", 1, "bad vendor format"),
        ("VENDOR  V  9  layout=1,1\n", 1, "bad vendor format"),
        ("VENDOR  V  9\nVENDOR  W  9\n", 2, "conflicts"),
        ("BEGIN-VENDOR  Nobody\n", 1, "unknown vendor"),
        ("VENDOR  V  9\nBEGIN-VENDOR  V\n", 2, "end of file inside BEGIN-VENDOR V"),
        ("VENDOR  V  9\nBEGIN-VENDOR  V\nBEGIN-VENDOR  V\n", 3, "inside the block"),
        ("END-VENDOR  V\n", 1, "does not close"),
        ("VENDOR  V  9\nBEGIN-VENDOR  V\nATTRIBUTE  A  256  string\n", 3, "out of range"),
        ("BEGIN-TLV  X\n", 1, "unknown keyword 'BEGIN-TLV'"),
        ("$INCLUDE\n", 1, "$INCLUDE takes one file name"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DictionaryError) as info:
        load_dictionary(path)
    assert (info.value.file, info.value.line) == (str(path), line)
    assert message in info.value.message
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_include_errors(tmp_path: Path) -> None:
    missing = write(tmp_path, "\n$INCLUDE nowhere\n")
    with pytest.raises(DictionaryError, match="nowhere: cannot read") as info:
        load_dictionary(missing)
    assert (info.value.file, info.value.line) == (str(missing), 2)
    loop = write(tmp_path, "$INCLUDE dictionary\n")
    with pytest.raises(DictionaryError, match="loop") as info:
        load_dictionary(loop)
    assert info.value.line == 1
    with pytest.raises(DictionaryError, match="cannot read"):
        load_dictionary(tmp_path / "absent")
    write(tmp_path, "\nATTRIBUTE  Bad  1  nonsense\n", "inner/bad")
    outer = write(tmp_path, "$INCLUDE inner/bad\n")
    with pytest.raises(DictionaryError) as info:
        load_dictionary(outer)
    assert info.value.file == f"{tmp_path}/inner/bad"
    assert info.value.line == 2


# --- the shipped dictionaries ----------------------------------------------------------------

MIKROTIK = [
    ("Mikrotik-Recv-Limit", 1, DataType.INTEGER),
    ("Mikrotik-Xmit-Limit", 2, DataType.INTEGER),
    ("Mikrotik-Group", 3, DataType.STRING),
    ("Mikrotik-Wireless-Forward", 4, DataType.INTEGER),
    ("Mikrotik-Wireless-Skip-Dot1x", 5, DataType.INTEGER),
    ("Mikrotik-Wireless-Enc-Algo", 6, DataType.INTEGER),
    ("Mikrotik-Wireless-Enc-Key", 7, DataType.STRING),
    ("Mikrotik-Rate-Limit", 8, DataType.STRING),
    ("Mikrotik-Realm", 9, DataType.STRING),
    ("Mikrotik-Host-IP", 10, DataType.IPADDR),
    ("Mikrotik-Mark-Id", 11, DataType.STRING),
    ("Mikrotik-Advertise-URL", 12, DataType.STRING),
    ("Mikrotik-Advertise-Interval", 13, DataType.INTEGER),
    ("Mikrotik-Recv-Limit-Gigawords", 14, DataType.INTEGER),
    ("Mikrotik-Xmit-Limit-Gigawords", 15, DataType.INTEGER),
    ("Mikrotik-Wireless-PSK", 16, DataType.STRING),
    ("Mikrotik-Total-Limit", 17, DataType.INTEGER),
    ("Mikrotik-Total-Limit-Gigawords", 18, DataType.INTEGER),
    ("Mikrotik-Address-List", 19, DataType.STRING),
    ("Mikrotik-Wireless-MPKey", 20, DataType.STRING),
    ("Mikrotik-Wireless-Comment", 21, DataType.STRING),
    ("Mikrotik-Delegated-IPv6-Pool", 22, DataType.STRING),
    ("Mikrotik-DHCP-Option-Set", 23, DataType.STRING),
    ("Mikrotik-DHCP-Option-Param-STR1", 24, DataType.STRING),
    ("Mikrotik-DHCP-Option-Param-STR2", 25, DataType.STRING),
    ("Mikrotik-Wireless-VLANID", 26, DataType.INTEGER),
    ("Mikrotik-Wireless-VLANIDtype", 27, DataType.INTEGER),
    ("Mikrotik-Wireless-Minsignal", 28, DataType.STRING),
    ("Mikrotik-Wireless-Maxsignal", 29, DataType.STRING),
    ("Mikrotik-Switching-Filter", 30, DataType.STRING),
]


def test_default_dictionary_is_cached() -> None:
    assert default_dictionary() is default_dictionary()


@pytest.mark.parametrize(("name", "code", "data_type"), MIKROTIK)
def test_mikrotik_attributes(name: str, code: int, data_type: DataType) -> None:
    definition = default_dictionary().attribute(name)
    assert (definition.vendor_id, definition.code, definition.type) == (14988, code, data_type)


@pytest.mark.parametrize(
    ("name", "vendor_id", "code", "data_type", "encrypt", "has_tag"),
    [
        ("User-Password", 0, 2, DataType.STRING, Encrypt.USER_PASSWORD, False),
        ("CHAP-Password", 0, 3, DataType.OCTETS, Encrypt.NONE, False),
        ("Acct-Status-Type", 0, 40, DataType.INTEGER, Encrypt.NONE, False),
        ("Acct-Tunnel-Connection", 0, 68, DataType.STRING, Encrypt.NONE, False),
        ("Tunnel-Password", 0, 69, DataType.STRING, Encrypt.TUNNEL_PASSWORD, True),
        ("Event-Timestamp", 0, 55, DataType.DATE, Encrypt.NONE, False),
        ("Message-Authenticator", 0, 80, DataType.OCTETS, Encrypt.NONE, False),
        ("Framed-Interface-Id", 0, 96, DataType.IFID, Encrypt.NONE, False),
        ("Framed-IPv6-Prefix", 0, 97, DataType.IPV6PREFIX, Encrypt.NONE, False),
        ("Error-Cause", 0, 101, DataType.INTEGER, Encrypt.NONE, False),
        ("Delegated-IPv6-Prefix", 0, 123, DataType.IPV6PREFIX, Encrypt.NONE, False),
        ("Operator-Name", 0, 126, DataType.STRING, Encrypt.NONE, False),
        ("Framed-IPv6-Address", 0, 168, DataType.IPV6ADDR, Encrypt.NONE, False),
        ("MS-CHAP-Response", 311, 1, DataType.OCTETS, Encrypt.NONE, False),
        ("MS-CHAP-Error", 311, 2, DataType.STRING, Encrypt.NONE, False),
        ("MS-CHAP-Challenge", 311, 11, DataType.OCTETS, Encrypt.NONE, False),
        ("MS-CHAP-MPPE-Keys", 311, 12, DataType.OCTETS, Encrypt.USER_PASSWORD, False),
        ("MS-MPPE-Send-Key", 311, 16, DataType.OCTETS, Encrypt.TUNNEL_PASSWORD, False),
        ("MS-MPPE-Recv-Key", 311, 17, DataType.OCTETS, Encrypt.TUNNEL_PASSWORD, False),
        ("MS-CHAP2-Response", 311, 25, DataType.OCTETS, Encrypt.NONE, False),
        ("MS-CHAP2-Success", 311, 26, DataType.OCTETS, Encrypt.NONE, False),
        ("MS-MPPE-Encryption-Policy", 311, 7, DataType.INTEGER, Encrypt.NONE, False),
        ("MS-MPPE-Encryption-Types", 311, 8, DataType.INTEGER, Encrypt.NONE, False),
    ],
)
def test_shipped_definitions(
    name: str, vendor_id: int, code: int, data_type: DataType, *, encrypt: Encrypt, has_tag: bool
) -> None:
    d = default_dictionary().attribute(name)
    expected = (vendor_id, code, data_type, encrypt, has_tag)
    assert (d.vendor_id, d.code, d.type, d.encrypt, d.has_tag) == expected


def test_shipped_values() -> None:
    d = default_dictionary()
    assert d.attribute("Service-Type").value_of("Framed-User") == 2
    assert d.attribute("Service-Type").value_of("Authorize-Only") == 17
    assert d.attribute("Acct-Status-Type").value_of("Interim-Update") == 3
    assert d.attribute("Acct-Status-Type").value_of("Tunnel-Start") == 9
    assert d.attribute("Acct-Terminate-Cause").value_name(1) == "User-Request"
    assert d.attribute("NAS-Port-Type").value_of("Wireless-802.11") == 19
    assert d.attribute("Tunnel-Type").value_of("VLAN") == 13
    assert d.attribute("Error-Cause").value_of("Session-Context-Not-Found") == 503
    assert d.attribute("Mikrotik-Wireless-Enc-Algo").value_of("TKIP") == 4


def test_shipped_files_define_each_number_once() -> None:
    """No aliases: every decoded attribute carries the one name the configuration uses."""
    shipped = resources.files("userman.radius").joinpath("dictionaries")
    seen: dict[tuple[str, str], str] = {}
    for file in shipped.iterdir():
        vendor = ""
        for line in file.read_text().splitlines():
            fields = line.split("#", 1)[0].split()
            if fields[:1] == ["BEGIN-VENDOR"]:
                vendor = fields[1]
            elif fields[:1] == ["END-VENDOR"]:
                vendor = ""
            elif fields[:1] == ["ATTRIBUTE"]:
                key = (vendor, fields[2])
                assert key not in seen, (fields[1], seen.get(key))
                seen[key] = fields[1]
    assert len(seen) == len(default_dictionary()) > 150
