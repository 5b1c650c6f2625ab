# nov/28/2026 10:15:42 by RouterOS 6.49.10
# software id = 7HQX-K2LM
#
# model = RB3011UiAS
# serial number = 8A2C09D1E4F7
/tool user-manager customer
set admin access=\
    own-routers,own-users,own-profiles,own-limits,config-payment-gw currency=\
    EUR password=s3cretadmin time-zone=+02:00
add access="own-routers,own-users,own-profiles,own-limits,config-payment-gw,pa\
    rent-routers,parent-users,parent-profiles,parent-limits" backup-allowed=\
    no disabled=no email=desk@example.net login=frontdesk parent=admin \
    password=desk123 paypal-accept-pending=no paypal-allowed=no \
    paypal-secure-response=no permissions=read-write signup-allowed=no \
    time-zone=-00:00
add backup-allowed=yes disabled=yes login=auditor parent=admin password=\
    audit paypal-accept-pending=no paypal-allowed=no paypal-secure-response=\
    no permissions=read-only signup-allowed=no time-zone=-00:00
/tool user-manager profile
add name=1hour name-for-users="1 hour" override-shared-users=off owner=admin \
    price=5000 starts-at=logon validity=0s
add name=week name-for-users="" override-shared-users=unlimited owner=admin \
    price=0 starts-at=now validity=1w
add name=month name-for-users="" override-shared-users=2 owner=frontdesk \
    price=150000 starts-at=logon validity=4w2d
/tool user-manager profile limitation
add address-list="" download-limit=0B group-name=hotspot ip-pool="" \
    ip-pool6="" name=1hour owner=admin transfer-limit=0B upload-limit=0B \
    uptime-limit=1h
add address-list=paying download-limit=1073741824B group-name="" ip-pool=\
    pool-week ip-pool6=pool6-week name=week-day owner=admin \
    rate-limit-burst-rx=4194304B rate-limit-burst-time-rx=8s \
    rate-limit-burst-time-tx=8s rate-limit-burst-treshold-rx=1572864B \
    rate-limit-burst-treshold-tx=1572864B rate-limit-burst-tx=4194304B \
    rate-limit-min-rx=524288B rate-limit-min-tx=524288B rate-limit-priority=5 \
    rate-limit-rx=2097152B rate-limit-tx=2097152B transfer-limit=0B \
    upload-limit=536870912B uptime-limit=0s
add address-list="" download-limit=0B group-name="" ip-pool="" ip-pool6="" \
    name=night owner=frontdesk rate-limit-rx=1048576B rate-limit-tx=1048576B \
    transfer-limit=10737418240B upload-limit=0B uptime-limit=0s
/tool user-manager database
set db-path=user-manager
/tool user-manager profile profile-limitation
add from-time=0s limitation=1hour profile=1hour till-time=23h59m59s weekdays=\
    sunday,monday,tuesday,wednesday,thursday,friday,saturday
add from-time=7h limitation=week-day profile=week till-time=22h59m59s \
    weekdays=monday,tuesday,wednesday,thursday,friday
add from-time=0s limitation=night profile=month till-time=6h59m59s weekdays=\
    sunday,saturday
/tool user-manager router
add coa-port=1700 customer=admin disabled=no ip-address=10.20.0.1 log=\
    auth-fail name=hotspot-gw shared-secret=radius123 use-coa=yes
add coa-port=3799 customer=frontdesk disabled=yes ip-address=10.20.0.9 log=\
    auth-ok,auth-fail,acct-ok,acct-fail name=lobby-ap shared-secret=lobby \
    use-coa=no
/tool user-manager user
add customer=admin disabled=no ipv6-dns=:: password=k7m2 shared-users=1 \
    username=k7m2 wireless-enc-algo=none wireless-enc-key="" wireless-psk=""
add caller-id=AA:BB:CC:00:11:22 customer=frontdesk disabled=no email=\
    guest@example.net first-name=Dewi ip-address=10.20.5.17 ipv6-dns=\
    2001:db8:20::53 last-name="Ayu Lestari" location="Room 12" password=\
    "pa ss" phone=+62-555-0101 shared-users=unlimited username=room12 \
    wireless-enc-algo=aes-ccm wireless-enc-key=0123456789abcdef \
    wireless-psk=roompsk
add caller-id-bind-on-first-use=yes customer=admin disabled=yes ipv6-dns=:: \
    password=x9q4 shared-users=2 username=x9q4 wireless-enc-algo=none \
    wireless-enc-key="" wireless-psk=""
