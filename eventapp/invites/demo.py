"""The invitations part of `eventapp seed-demo`: the event's page content, its booking form and
answers, a cover image, the invitation mailing that went out and every message since."""

from __future__ import annotations

import hashlib
import io
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app
from PIL import Image, ImageDraw

from eventapp.contacts.models import Contact
from eventapp.core.outbox import Medium, MessageStatus, OutboxMessage
from eventapp.events.models import Channel, ChannelKind, Event, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.models import Mailing

AGENDA = (
    ("08:30", "签到 · 领取参会礼 Registration and welcome gift", ""),
    ("09:30", "开幕致辞 Opening address", "王建国 · 中国智能制造产业联盟"),
    ("10:00", "主题演讲：工业 AI 的下一个十年 Keynote: the next decade of industrial AI",
     "Dr. Sarah Mitchell, Siemens Digital Industries"),
    ("11:00", "圆桌：柔性产线的投资回报 Panel: the payback of flexible lines", "4 位工厂厂长 · four plant managers"),
    ("12:00", "午餐与展区参观 Lunch and exhibition", ""),
    ("13:30", "分论坛 A：数字孪生 Track A: digital twins", "李娜 · 海尔卡奥斯"),
    ("13:30", "分论坛 B：设备预测性维护 Track B: predictive maintenance", "Tom Becker, SKF"),
    ("15:30", "客户案例：一座灯塔工厂的三年 Case study: three years of a lighthouse factory",
     "陈晓峰 · 美的集团"),
    ("16:30", "抽奖与闭幕 Prize draw and close", ""),
)

BOOKING_FORM = {
    "fields": {"name": "required", "phone": "required", "email": "optional",
               "company": "required", "job_title": "optional", "city": "optional"},
    "questions": [
        {"key": "q1", "kind": "single", "label": "您最关心的议题 · Topic you care about most",
         "options": ["工业 AI · Industrial AI", "数字孪生 · Digital twins",
                     "预测性维护 · Predictive maintenance", "柔性产线 · Flexible lines"],
         "required": True},
        {"key": "q2", "kind": "multiple", "label": "未来 12 个月的采购计划 · Purchase plans, next 12 months",
         "options": ["MES", "工业机器人 · Robots", "视觉检测 · Machine vision", "IoT 平台 · IoT platform",
                     "暂无 · None yet"], "required": False},
        {"key": "q3", "kind": "yes_no", "label": "是否需要午餐 · Lunch needed?", "options": [],
         "required": True},
    ],
}


def describe_event(event: Event) -> None:
    """What the invitation page shows: programme, map, gift, privacy text, booking form; and
    what checked-in attendees' ticket pages show on site: the floor plan and the help."""
    event.description = (
        "汇聚 60 家工业软件与自动化厂商，展示数字化工厂、工业 AI 与柔性产线的落地案例。"
        "现场设有 12 个互动展台、2 个分论坛和供应商一对一洽谈区。\n\n"
        "Sixty exhibitors show digital factories, industrial AI and flexible lines at work: "
        "12 hands-on booths, two tracks and one-to-one supplier meetings.")
    event.agenda = [{"time": t, "title": title, "speaker": speaker}
                    for t, title, speaker in AGENDA]
    event.map_url = "https://uri.amap.com/marker?position=121.4904,31.1866&name=上海世博中心"
    event.latitude, event.longitude = 31.1866, 121.4904
    event.weather_note = "12 月上海早晚较冷，请带外套；会场室内恒温。 Shanghai mornings are cold in " \
                         "December: bring a coat; the halls are heated."
    event.gift = "定制保温杯 · Branded thermos flask"
    event.privacy_text = ("我们仅将您的信息用于本次活动的报名、入场与会后回访；您可随时退订。"
                          "We use your details only for this event's booking, entry and "
                          "follow-up; you can unsubscribe at any time.")
    event.booking_form = BOOKING_FORM
    event.venue_help = VENUE_HELP
    db.session.add(event)
    db.session.flush()  # the floor plan's file is named by the event's id
    floor_plan_image(event)


VENUE_HELP = {
    "faq": [
        {"q": "衣帽间在哪里？ Where is the cloakroom?",
         "a": "北门入口内侧，礼品台旁边。Inside the north entrance, next to the gift desk."},
        {"q": "有 Wi-Fi 吗？ Is there Wi-Fi?", "a": "网络 Expo-Guest，密码 smart2026。"
                                                "Network Expo-Guest, password smart2026."},
        {"q": "午餐在哪里？ Where is lunch?",
         "a": "12:00 起在红厅二层餐区，凭胸卡领取。From 12:00 on the Red Hall's first floor; "
              "show your badge."},
        {"q": "可以在哪里给手机充电？ Where can I charge my phone?",
         "a": "蓝厅 A 区和红厅入口各有充电柜。Charging lockers in Blue Hall zone A and at the "
              "Red Hall entrance."},
    ],
    "contact": "北门服务台 · Service desk at the north entrance",
    "phone": "+86 21 6888 2026",
}


def floor_plan_image(event: Event) -> None:
    """Draw the demo venue's floor plan (the halls, stage, rooms and booths of the demo's
    check-in points) into the uploads folder, as an uploaded plan would be stored."""
    from eventapp.invites.poster_text import PosterFontMissing, poster_fonts

    width, height = 1200, 800
    image = Image.new("RGB", (width, height), (245, 247, 251))
    draw = ImageDraw.Draw(image)
    try:
        fonts = poster_fonts()
        big, small = fonts.bold.at(34), fonts.regular.at(24)
    except PosterFontMissing:
        big = small = None
    halls = (((40, 90, 700, 740), (214, 228, 255), "蓝厅 Blue Hall"),
             ((740, 90, 1160, 740), (255, 222, 222), "红厅 Red Hall"))
    for box, fill, name in halls:
        draw.rounded_rectangle(box, 18, fill=fill, outline=(23, 32, 51), width=4)
        if big:
            draw.text((box[0] + 24, box[1] + 18), name, font=big, fill=(23, 32, 51))
    places = (((80, 180, 420, 400), (31, 94, 255), "主论坛 Main stage"),
              ((460, 180, 660, 300), (15, 157, 88), "A12"),
              ((460, 330, 660, 450), (15, 157, 88), "B03"),
              ((780, 180, 1120, 360), (31, 94, 255), "201 工业 AI 分论坛 (2F)"),
              ((780, 400, 1000, 520), (15, 157, 88), "C21"),
              ((80, 560, 300, 680), (178, 106, 0), "礼品台 Gift desk"))
    for box, fill, label in places:
        draw.rounded_rectangle(box, 12, fill=fill)
        if small:
            draw.text((box[0] + 16, box[1] + 14), label, font=small, fill=(255, 255, 255))
    for x, label in ((80, "北门 North entrance ▲"), (400, "南门 South entrance ▲")):
        if small:
            draw.text((x, 752), label, font=small, fill=(23, 32, 51))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=88)
    data = buffer.getvalue()
    folder = Path(current_app.config["EVENTAPP_INSTANCE_PATH"]) / "uploads" / "covers"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{event.id}-plan-{hashlib.sha256(data).hexdigest()[:16]}.jpg"
    (folder / name).write_bytes(data)
    event.floor_plan_image = name


def cover_image(event: Event) -> None:
    """Draw the demo event's cover (a blue gradient with a factory skyline) into the uploads
    folder, as an uploaded and re-encoded cover would be stored."""
    width, height = 1200, 630
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        shade = y / height
        draw.line([(0, y), (width, y)], fill=(int(14 + 20 * shade), int(60 + 40 * shade),
                                              int(140 + 60 * shade)))
    skyline = [(0, 520), (80, 520), (80, 430), (160, 430), (160, 470), (240, 470), (240, 380),
               (300, 380), (300, 300), (330, 300), (330, 380), (420, 380), (420, 450),
               (520, 410), (620, 450), (620, 360), (700, 360), (700, 470), (800, 470),
               (800, 330), (850, 330), (850, 250), (880, 250), (880, 330), (960, 330),
               (960, 440), (1060, 400), (1200, 440), (1200, 630), (0, 630)]
    draw.polygon(skyline, fill=(8, 30, 70))
    for x in range(40, width, 90):
        draw.ellipse([x, 90 + (x * 7) % 120, x + 6, 96 + (x * 7) % 120], fill=(120, 200, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    data = buffer.getvalue()
    folder = Path(current_app.config["EVENTAPP_INSTANCE_PATH"]) / "uploads" / "covers"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{event.id}-{hashlib.sha256(data).hexdigest()[:16]}.jpg"
    (folder / name).write_bytes(data)
    event.cover_image = name


def answers(rng: random.Random) -> dict[str, Any]:
    """A plausible set of answers to the demo booking form."""
    questions = BOOKING_FORM["questions"]
    result: dict[str, Any] = {"q1": rng.choice(questions[0]["options"]),
                              "q3": rng.random() < 0.7}
    if rng.random() < 0.8:
        result["q2"] = rng.sample(questions[1]["options"][:4], k=rng.randint(1, 3))
    return result


def _message(medium: Medium, kind: str, contact: Contact, at: datetime, *,
             event: Event, registration_id: int | None = None, dedupe: str,
             status: MessageStatus = MessageStatus.SENT, payload: dict[str, Any] | None = None,
             error: str | None = None) -> dict[str, Any] | None:
    address = contact.email if medium == Medium.EMAIL else contact.phone
    if not address:
        return None
    return {"event_id": event.id, "contact_id": contact.id, "registration_id": registration_id,
            "medium": medium.value, "kind": kind, "recipient": address,
            "locale": contact.locale or "zh_CN", "dedupe_key": dedupe,
            "payload": payload or {}, "status": status.value, "attempts": 1,
            "next_attempt_at": at, "claimed_until": None,
            "sent_at": at if status == MessageStatus.SENT else None,
            "last_error": error, "created_at": at}


def messages(rng: random.Random, event: Event, channels: list[Channel],
             contacts: list[Contact], registrations: list[Registration],
             now: datetime) -> int:
    """The invitation mailing sent three weeks before, and each booking's ticket and reminder
    messages; some people opted out. Returns how many messages were written."""
    by_id = {contact.id: contact for contact in contacts}
    rows: list[dict[str, Any] | None] = []
    edm = next(c for c in channels if c.kind == ChannelKind.EMAIL)
    sent_at = event.starts_at - timedelta(days=21)
    mailing = Mailing(event_id=event.id, channel_id=edm.id, medium=Medium.EMAIL,
                      segment={"not_registered": True, "city": ""},
                      note="早鸟报名前 300 位赠送定制保温杯。The first 300 to book get a thermos.",
                      created_at=sent_at - timedelta(minutes=12))
    db.session.add(mailing)
    db.session.flush()
    invited = [c for c in contacts if c.email and rng.random() < 0.45]
    for contact in invited:
        if rng.random() < 0.015:  # people who had unsubscribed earlier
            contact.opted_out_at = sent_at - timedelta(days=rng.randint(5, 200))
            rows.append(_message(Medium.EMAIL, "invitation", contact, sent_at, event=event,
                                 dedupe=f"invitation:{mailing.id}:{contact.id}",
                                 status=MessageStatus.SKIPPED,
                                 payload={"mailing_id": mailing.id},
                                 error="opted out"))
            continue
        failed = rng.random() < 0.01
        rows.append(_message(Medium.EMAIL, "invitation", contact,
                             sent_at + timedelta(seconds=rng.randint(1, 900)), event=event,
                             dedupe=f"invitation:{mailing.id}:{contact.id}",
                             status=MessageStatus.FAILED if failed else MessageStatus.SENT,
                             payload={"mailing_id": mailing.id},
                             error="550 5.1.1 mailbox unavailable" if failed else None))
    mailing.queued = sum(1 for r in rows if r and r["status"] != MessageStatus.SKIPPED.value)
    mailing.skipped = len(invited) - mailing.queued

    reminder_at = event.starts_at - timedelta(hours=24)
    for registration in registrations:
        contact = by_id[registration.contact_id]
        booked = registration.created_at
        kind = "ticket" if registration.status != RegistrationStatus.WAITLISTED else "waitlisted"
        for medium in (Medium.EMAIL, Medium.SMS):
            rows.append(_message(medium, kind, contact, booked + timedelta(seconds=3),
                                 event=event, registration_id=registration.id,
                                 dedupe=f"{kind}:{registration.id}:"
                                        f"{registration.ticket_serial}:{medium.value}"))
            if registration.status == RegistrationStatus.CONFIRMED and booked < reminder_at:
                rows.append(_message(medium, "reminder", contact,
                                     reminder_at + timedelta(seconds=rng.randint(5, 600)),
                                     event=event, registration_id=registration.id,
                                     dedupe=f"reminder:{registration.id}:{medium.value}"))
    written = [row for row in rows if row is not None]
    db.session.execute(sa.insert(OutboxMessage), written)
    return len(written)
