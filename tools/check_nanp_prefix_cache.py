"""Check that NANP validity, type, region, zones and place depend only on NPA-NXX.

Run after upgrading phonenumbers: python tools/check_nanp_prefix_cache.py 200 1000
(then rebuild the exchange table the importer uses: python tools/build_nanp_table.py).
Prints every exchange where a suffix changes the result (known: +1 246 521/522,
+1 876 606 -- these are outside US/CA and bypass the cache in dialcli.phones).
"""
import phonenumbers, sys
from phonenumbers import geocoder, timezone
def info(s):
    n=phonenumbers.parse(s,None)
    v=phonenumbers.is_valid_number(n)
    return (v, phonenumbers.number_type(n), phonenumbers.region_code_for_number(n), timezone.time_zones_for_number(n) , geocoder.description_for_number(n,"en"))
bad=0; tot=0
lo,hi=int(sys.argv[1]),int(sys.argv[2])
for npa in range(lo,hi):
    for nxx in range(200,1000):
        p=f"+1{npa}{nxx}"
        a=info(p+"0000"); 
        for suf in ("5555","9999","0199","4321"):
            tot+=1
            if info(p+suf)!=a:
                bad+=1
                if bad<20: print("MISMATCH",p,suf,a,info(p+suf),flush=True)
print("done",lo,hi,tot,bad,flush=True)
