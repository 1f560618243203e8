"""The procedure catalogue (danh mục TTHC): ~1,855 procedures at province / district / commune level in
Yên Bái's 2021 proportions (1,489 / 261 / 105), online-service levels in Cao Bằng's mix, and
announcement / publication dates of which some are late."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .calendar import WorkCalendar
from .rng import h64, u01
from .units import Entity

# department key -> fields (lĩnh vực) it handles at province level
FIELDS_TINH: dict[str, list[str]] = {
    "VP": ["Kiểm soát thủ tục hành chính"],
    "SNV": ["Tổ chức cán bộ", "Thi đua - khen thưởng", "Tôn giáo", "Văn thư và lưu trữ"],
    "STP": ["Hộ tịch", "Lý lịch tư pháp", "Công chứng", "Luật sư", "Đấu giá tài sản", "Trợ giúp pháp lý"],
    "SKHDT": ["Đầu tư tại Việt Nam", "Thành lập và hoạt động của doanh nghiệp", "Kinh tế hợp tác"],
    "STC": ["Quản lý công sản", "Quản lý giá", "Tài chính ngân sách"],
    "SCT": ["Lưu thông hàng hóa trong nước", "An toàn thực phẩm", "Điện", "Hóa chất", "Xúc tiến thương mại"],
    "SNNPTNT": ["Trồng trọt", "Chăn nuôi", "Thú y", "Bảo vệ thực vật", "Thủy lợi", "Lâm nghiệp", "Thủy sản"],
    "SGTVT": ["Đường bộ", "Đường thủy nội địa", "Đăng kiểm"],
    "SXD": ["Hoạt động xây dựng", "Nhà ở", "Kinh doanh bất động sản", "Quy hoạch xây dựng"],
    "STNMT": ["Đất đai", "Môi trường", "Tài nguyên nước", "Khoáng sản", "Đo đạc và bản đồ"],
    "STTTT": ["Báo chí", "Xuất bản, in và phát hành", "Bưu chính", "Viễn thông và Internet"],
    "SLDTBXH": ["Việc làm", "Giáo dục nghề nghiệp", "Người có công", "Bảo trợ xã hội", "An toàn lao động"],
    "SVHTTDL": ["Văn hóa", "Thể dục thể thao", "Du lịch", "Gia đình", "Di sản văn hóa"],
    "SKHCN": ["Hoạt động khoa học và công nghệ", "Tiêu chuẩn đo lường chất lượng", "Sở hữu trí tuệ"],
    "SGDDT": ["Giáo dục và đào tạo", "Thi, tuyển sinh", "Văn bằng, chứng chỉ"],
    "SYT": ["Khám bệnh, chữa bệnh", "Dược phẩm", "Y tế dự phòng", "Trang thiết bị y tế"],
    "TTT": ["Giải quyết khiếu nại", "Giải quyết tố cáo", "Tiếp công dân"],
    "BDT": ["Công tác dân tộc"],
    "BQLKCN": ["Đầu tư tại khu công nghiệp", "Lao động trong khu công nghiệp"],
    "SNGV": ["Công tác lãnh sự", "Hợp tác quốc tế"],
}
FIELDS_HUYEN = [
    "Hộ tịch",
    "Chứng thực",
    "Đất đai",
    "Hoạt động xây dựng",
    "Thành lập và hoạt động của hộ kinh doanh",
    "Lưu thông hàng hóa trong nước",
    "Bảo trợ xã hội",
    "Người có công",
    "Giáo dục và đào tạo",
    "Văn hóa",
    "Môi trường",
    "Nông nghiệp",
    "Tổ chức cán bộ",
    "Thi đua - khen thưởng",
]
FIELDS_XA = [
    "Hộ tịch",
    "Chứng thực",
    "Bảo trợ xã hội",
    "Người có công",
    "Đất đai",
    "Nông nghiệp",
    "Văn hóa",
    "Thi đua - khen thưởng",
    "Tôn giáo",
    "Hòa giải cơ sở",
]

# The busiest real procedures, first in popularity order for their level.
NAMED = {
    "XA": [
        ("Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của Việt Nam cấp", "Chứng thực"),
        ("Chứng thực chữ ký trong các giấy tờ, văn bản", "Chứng thực"),
        ("Đăng ký khai sinh", "Hộ tịch"),
        ("Cấp giấy xác nhận tình trạng hôn nhân", "Hộ tịch"),
        ("Đăng ký kết hôn", "Hộ tịch"),
        ("Đăng ký khai tử", "Hộ tịch"),
        ("Cấp bản sao trích lục hộ tịch", "Hộ tịch"),
        ("Liên thông đăng ký khai sinh, đăng ký thường trú, cấp thẻ bảo hiểm y tế cho trẻ em dưới 6 tuổi", "Hộ tịch"),
        ("Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản", "Chứng thực"),
        ("Đăng ký nhận cha, mẹ, con", "Hộ tịch"),
        ("Đăng ký giám hộ", "Hộ tịch"),
        ("Đăng ký lại khai sinh", "Hộ tịch"),
        ("Trợ cấp xã hội hằng tháng đối với đối tượng bảo trợ xã hội", "Bảo trợ xã hội"),
        ("Hỗ trợ chi phí mai táng cho đối tượng bảo trợ xã hội", "Bảo trợ xã hội"),
    ],
    "HUYEN": [
        ("Đăng ký thành lập hộ kinh doanh", "Thành lập và hoạt động của hộ kinh doanh"),
        ("Đăng ký thay đổi nội dung đăng ký hộ kinh doanh", "Thành lập và hoạt động của hộ kinh doanh"),
        ("Cấp giấy phép xây dựng nhà ở riêng lẻ", "Hoạt động xây dựng"),
        ("Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan nước ngoài cấp", "Chứng thực"),
        ("Đăng ký kết hôn có yếu tố nước ngoài", "Hộ tịch"),
        ("Đăng ký khai sinh có yếu tố nước ngoài", "Hộ tịch"),
        ("Cấp Giấy phép bán lẻ sản phẩm rượu", "Lưu thông hàng hóa trong nước"),
        ("Thu hồi đất, giao đất, cho thuê đất", "Đất đai"),
    ],
    "TINH": [
        ("Đăng ký thành lập doanh nghiệp tư nhân", "Thành lập và hoạt động của doanh nghiệp"),
        ("Đăng ký thay đổi nội dung đăng ký doanh nghiệp", "Thành lập và hoạt động của doanh nghiệp"),
        (
            "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư trú tại Việt Nam",
            "Lý lịch tư pháp",
        ),
        ("Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất", "Đất đai"),
        ("Cấp Giấy chứng nhận quyền sử dụng đất lần đầu", "Đất đai"),
        ("Đổi giấy phép lái xe do ngành Giao thông vận tải cấp", "Đường bộ"),
        ("Cấp chứng chỉ hành nghề dược", "Dược phẩm"),
        ("Cấp giấy phép lao động cho người lao động nước ngoài làm việc tại Việt Nam", "Việc làm"),
        ("Giải quyết hưởng trợ cấp thất nghiệp", "Việc làm"),
        ("Cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm", "An toàn thực phẩm"),
        ("Cấp giấy phép xây dựng công trình", "Hoạt động xây dựng"),
        ("Cấp giấy chứng nhận đăng ký đầu tư", "Đầu tư tại Việt Nam"),
        ("Phúc khảo bài thi tốt nghiệp trung học phổ thông", "Thi, tuyển sinh"),
        ("Cấp bản sao văn bằng, chứng chỉ từ sổ gốc", "Văn bằng, chứng chỉ"),
    ],
}

ACTIONS = [
    "Cấp",
    "Cấp lại",
    "Cấp đổi",
    "Điều chỉnh",
    "Gia hạn",
    "Thu hồi",
    "Đăng ký",
    "Thẩm định",
    "Phê duyệt",
    "Xác nhận",
    "Công nhận",
    "Thông báo",
    "Chấp thuận",
    "Đề nghị hỗ trợ",
]
OBJECTS = [
    "giấy phép hoạt động",
    "giấy chứng nhận đủ điều kiện",
    "chứng chỉ hành nghề",
    "văn bản chấp thuận",
    "hồ sơ đề nghị",
    "quyết định công nhận",
    "giấy xác nhận",
    "thông báo thay đổi",
    "hồ sơ thẩm định",
    "đăng ký hoạt động",
    "kế hoạch",
    "danh mục",
    "phương án",
]

LEVEL_COUNTS = {"TINH": 1489, "HUYEN": 261, "XA": 105}
DEADLINES = {  # working days, weights
    "XA": ([1, 2, 3, 5, 7, 10], [30, 20, 20, 15, 10, 5]),
    "HUYEN": ([3, 5, 7, 10, 15, 20], [10, 25, 20, 25, 12, 8]),
    "TINH": ([2, 3, 5, 7, 10, 15, 20], [5, 10, 25, 15, 25, 12, 8]),
}


@dataclass
class Procedure:
    idx: int
    code: str
    name: str
    field: str
    level: str  # TINH | HUYEN | XA
    mode: str  # TOAN_TRINH | MOT_PHAN | KHONG
    fee: bool
    payment: bool
    citizen: bool
    population: bool
    in_force: date
    announced: date
    published: date
    content_full: bool
    competent: list[str]  # maDinhDanh list, empty = every unit of the level
    deadline: int  # working days
    popularity: float  # relative intake weight
    owner: int | None  # entity idx that actually receives its dossiers (province level)
    owner_key: str | None = None  # that entity's key: every province's department of this function receives them

    def item(self, today: date) -> dict:
        return {
            "maThuTuc": self.code,
            "tenThuTuc": self.name,
            "linhVuc": self.field,
            "capThucHien": self.level,
            "mucDoDVC": self.mode,
            "coPhiLePhi": self.fee,
            "tichHopThanhToan": self.payment,
            "doiTuongCongDan": self.citizen,
            "ketNoiDuLieuDanCu": self.population,
            "ngayHieuLucVanBan": self.in_force.isoformat(),
            "ngayQuyetDinhCongBo": self.announced.isoformat(),
            "ngayCongKhai": self.published.isoformat() if self.published <= today else None,
            "noiDungDayDu": self.content_full,
            "donViThucHien": list(self.competent),
        }


def _weighted(seed: int, labels: tuple, values: list, weights: list):
    x = u01(seed, *labels) * sum(weights)
    for v, w in zip(values, weights, strict=True):
        x -= w
        if x < 0:
            return v
    return values[-1]


def build_catalogue(
    seed: int, ents: list[Entity], cal: WorkCalendar, total: int = 1855, by_key: dict[str, Entity] | None = None
) -> list[Procedure]:
    """`by_key`: the departments (and "UBND") that competence lists name; default: `ents` by key."""
    by_key = by_key or {e.key: e for e in ents}
    districts = [e for e in ents if e.kind == "UBND_HUYEN"]
    scale = total / sum(LEVEL_COUNTS.values())
    procs: list[Procedure] = []
    used_codes: set[str] = set()
    for level, count in LEVEL_COUNTS.items():
        n = max(1, round(count * scale))
        names = _names(seed, level, n)
        for i, (name, fld, owner_key) in enumerate(names):
            lab = (level, i)
            code = _proc_code(seed, lab, used_codes)
            r = [u01(seed, "proc", *lab, k) for k in range(16)]
            mode = "TOAN_TRINH" if r[0] < 0.65 else ("MOT_PHAN" if r[0] < 0.885 else "KHONG")
            fee = r[1] < 0.42
            payment = fee and mode != "KHONG" and r[2] < 0.72
            citizen = r[3] < (0.9 if level != "TINH" else 0.6)
            population = citizen and r[4] < 0.6
            # legal basis in force: mostly older texts, a steady trickle of new ones up to 2025
            span = (date(2025, 12, 31) - date(2018, 1, 1)).days
            in_force = date(2018, 1, 1) + timedelta(days=int(span * r[5] ** 0.6))
            if i < len(NAMED[level]):  # the busiest procedures are long established
                in_force = date(2018, 1, 1) + timedelta(days=int(700 * r[5]))
            if r[6] < 0.8:  # announced at least 5 working days ahead (on time)
                announced = cal.add_working_days(in_force, -(5 + int(r[7] * 25)))
            else:  # late: fewer than 5 working days ahead, or after the text took effect
                announced = in_force + timedelta(days=int(r[7] * 40) - 6)
                if cal.wdi(in_force) - cal.wdi(announced) >= 5:
                    announced = cal.add_working_days(in_force, -2)
            if r[8] < 0.85:  # published on the national database within 5 working days
                published = cal.add_working_days(announced, int(r[9] * 6)) if r[9] >= 1 / 6 else announced
            else:
                published = cal.add_working_days(announced, 6 + int(r[9] * 30))
            competent: list[str] = []
            owner = okey = None
            if level == "TINH":
                owner, okey = by_key[owner_key].idx, owner_key
                if r[10] < 0.2:
                    competent = [by_key[owner_key].code]
                elif owner_key == "VP" and r[10] < 0.5:
                    # some decisions are the province committee's own
                    owner, okey = by_key["UBND"].idx, "UBND"
                    competent = [by_key["UBND"].code]
            elif level == "HUYEN" and r[10] < 0.08:
                # e.g. urban-only procedures: only the two cities
                competent = [d.code for d in districts if int(d.area_code) in (243, 244)] or [districts[0].code]
            values, weights = DEADLINES[level]
            deadline = _weighted(seed, ("deadline", *lab), values, weights)
            named = len(NAMED[level])
            popularity = (8.0 / (1 + i) ** 0.7) if i < named else 0.15 + 1.2 * r[11] ** 3
            procs.append(
                Procedure(
                    idx=len(procs),
                    code=code,
                    name=name,
                    field=fld,
                    level=level,
                    mode=mode,
                    fee=fee,
                    payment=payment,
                    citizen=citizen,
                    population=population,
                    in_force=in_force,
                    announced=announced,
                    published=published,
                    content_full=r[12] < 0.93,
                    competent=competent,
                    deadline=deadline,
                    popularity=popularity,
                    owner=owner,
                    owner_key=okey,
                )
            )
    return procs


def _proc_code(seed: int, lab: tuple, used: set[str]) -> str:
    k = 0
    while True:
        n = h64(seed, "pcode", *lab, k) % 900000 + 1000
        code = f"{1 + (n % 2)}.{n:06d}"
        if code not in used:
            used.add(code)
            return code
        k += 1


def _names(seed: int, level: str, n: int) -> list[tuple[str, str, str]]:
    """(name, field, owner department key) for n procedures of a level; named ones first."""
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    if level == "TINH":
        pool = [(f, k) for k, fs in FIELDS_TINH.items() for f in fs]
        field_owner = dict(reversed(pool))
    else:
        pool = [(f, "") for f in (FIELDS_HUYEN if level == "HUYEN" else FIELDS_XA)]
        field_owner = {f: "" for f, _ in pool}
    for name, fld in NAMED[level][:n]:
        out.append((name, fld, field_owner.get(fld, pool[0][1])))
        seen.add(name)
    suffix = {"TINH": "", "HUYEN": " cấp huyện", "XA": " cấp xã"}[level]
    i = 0
    while len(out) < n:
        fld, owner = pool[h64(seed, "pfield", level, i) % len(pool)]
        act = ACTIONS[h64(seed, "pact", level, i) % len(ACTIONS)]
        obj = OBJECTS[h64(seed, "pobj", level, i) % len(OBJECTS)]
        name = f"{act} {obj} trong lĩnh vực {fld[0].lower() + fld[1:]}{suffix}"
        k = 2
        base = name
        while name in seen:
            name = f"{base} (trường hợp {k})"
            k += 1
        seen.add(name)
        out.append((name, fld, owner))
        i += 1
    return out
