"""`eventapp seed-demo`: one realistic trade-show event, so every page has something to show.

The event is in progress when the demo is seeded (it started two hours ago), so the gate has
arrivals and the reports have a whole funnel. Contacts are made up with Faker (Chinese and
English names); their e-mail addresses use the reserved example.com/.net/.org domains so that a
demo can never mail a real person. The same seed gives the same data.

Each feature extends `seed_demo` with its own part (tickets, scores, surveys, ...).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import phonenumbers
import sqlalchemy as sa
from faker import Faker

from eventapp.auth.models import User
from eventapp.auth.services import hash_password
from eventapp.contacts.models import Contact
from eventapp.core.activity import Activity, ActivityKind
from eventapp.core.time import utcnow, zone
from eventapp.events.models import (Channel, ChannelKind, Event, EventRole, EventStatus,
                                    Membership, Registration, RegistrationStatus)
from eventapp.checkin import demo as checkin_demo
from eventapp.extensions import db
from eventapp.invites import demo as invites_demo
from eventapp.invites.booking import (ensure_ticket_keys, issue_ticket, new_share_code,
                                      new_ticket_token)

DEMO_PASSWORD = "eventapp-demo"
#: (e-mail, role) of the demo accounts, as printed after seeding.
DEMO_USERS: tuple[tuple[str, str], ...] = (
    ("admin@example.com", "admin"),
    ("marketer@example.com", "marketer"),
    ("staff@example.com", "staff"),
    ("supervisor@example.com", "supervisor"),
    ("sales@example.com", "sales"),
)
_DEMO_NAMES = {"admin@example.com": "Admin", "marketer@example.com": "林晓雯",
               "staff@example.com": "张伟", "supervisor@example.com": "王芳",
               "sales@example.com": "陈思远"}

EVENT_SLUG = "smart-manufacturing-2026"
TIMEZONE = "Asia/Shanghai"
CAPACITY = 1000

# (name, kind, code, spend in CNY, share of bookings, visitors who did not book per booking):
# ads bring many visitors who rarely book; e-mails to known people and partners convert well.
CHANNELS = (
    ("公众号推文 WeChat article", ChannelKind.WECHAT, "wechat-article", "8000.00", 0.34, 2.1),
    ("行业协会合作 Industry association", ChannelKind.PARTNER, "assoc-partner", "15000.00", 0.20,
     1.1),
    ("邀请邮件 Invitation e-mail", ChannelKind.EMAIL, "edm-1", "3000.00", 0.14, 0.9),
    ("信息流广告 Feed ads", ChannelKind.ADS, "feed-ads", "32000.00", 0.22, 5.5),
)
DIRECT_LOOKERS = 1.6  # the same for people who came without a channel link (share: the rest)

ZH_TITLES = ("采购经理", "生产总监", "IT 经理", "总经理", "工艺工程师", "数字化转型负责人", "CIO",
             "设备部经理", "质量经理", "工厂厂长", "自动化工程师", "供应链总监", "技术总监",
             "运营副总裁", "项目经理", "销售总监", "研发工程师", "信息中心主任")
EN_TITLES = ("Plant Manager", "Procurement Director", "Head of Digital Transformation",
             "Automation Engineer", "Operations VP", "Quality Manager", "CTO",
             "Supply Chain Manager", "IT Director", "Sales Director", "Project Manager")
ZH_CITIES = ("上海", "苏州", "杭州", "南京", "无锡", "宁波", "常州", "合肥", "北京", "深圳",
             "广州", "嘉兴", "南通", "天津", "成都")
EN_CITIES = ("Shanghai", "Suzhou", "Hong Kong", "Singapore", "Munich", "Chicago", "Tokyo",
             "Seoul", "London")
INDUSTRY_WORDS = ("精密制造", "智能装备", "自动化", "机电", "新材料", "电子科技", "汽车零部件",
                  "工业软件", "传感技术", "机器人", "模具", "新能源科技")
EN_DOMAINS = ("example.com", "example.net", "example.org")


def demo_logins() -> list[tuple[str, str]]:
    """The demo accounts that exist (with their password unchanged or not: we cannot tell)."""
    emails = [email for email, _role in DEMO_USERS]
    present = set(db.session.scalars(sa.select(User.email).where(User.email.in_(emails))))
    return [(email, role) for email, role in DEMO_USERS if email in present]


def database_is_empty() -> bool:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0


@dataclass
class _Person:
    name: str
    phone: str | None
    email: str | None
    company: str
    job_title: str
    city: str
    locale: str


class _People:
    """Made-up but plausible attendees: ~80% Chinese, ~20% international."""

    def __init__(self, rng: random.Random, seed: int) -> None:
        self.rng = rng
        self.zh = Faker("zh_CN")
        self.en = Faker("en_US")
        self.zh.seed_instance(seed)
        self.en.seed_instance(seed + 1)
        self.phones: set[str] = set()
        self.emails: set[str] = set()

    def _unique_phone(self) -> str:
        while True:
            number = phonenumbers.parse(self.zh.phone_number(), "CN")
            if phonenumbers.is_valid_number(number):
                e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                if e164 not in self.phones:
                    self.phones.add(e164)
                    return e164

    def _unique_email(self, user_name: str) -> str:
        while True:
            email = f"{user_name}{self.rng.randint(1, 999)}@{self.rng.choice(EN_DOMAINS)}".lower()
            if email not in self.emails:
                self.emails.add(email)
                return email

    def make(self) -> _Person:
        rng = self.rng
        if rng.random() < 0.8:
            city = rng.choice(ZH_CITIES)
            company = f"{city}{self.zh.company_prefix()}{rng.choice(INDUSTRY_WORDS)}有限公司"
            return _Person(
                name=self.zh.name(), phone=self._unique_phone(),
                email=self._unique_email(self.zh.user_name()) if rng.random() < 0.7 else None,
                company=company, job_title=rng.choice(ZH_TITLES), city=city, locale="zh_CN")
        return _Person(
            name=self.en.name(), phone=self._unique_phone() if rng.random() < 0.3 else None,
            email=self._unique_email(self.en.user_name()), company=self.en.company(),
            job_title=rng.choice(EN_TITLES), city=rng.choice(EN_CITIES), locale="en")


def _demo_users() -> dict[str, User]:
    users = {}
    password_hash = hash_password(DEMO_PASSWORD)
    for email, role in DEMO_USERS:
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=_DEMO_NAMES[email], password_hash=password_hash,
                        is_admin=role == "admin")
            db.session.add(user)
        users[role] = user
    db.session.flush()
    return users


def _event(now: datetime) -> Event:
    local_now = now.astimezone(zone(TIMEZONE))
    starts = local_now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    return Event(
        slug=EVENT_SLUG, title="2026 智能制造数字化峰会 · Smart Manufacturing Summit",
        description=("汇聚 60 家工业软件与自动化厂商，展示数字化工厂、工业 AI 与柔性产线的落地案例。"
                     "Sixty exhibitors show digital factories, industrial AI and flexible lines "
                     "at work."),
        starts_at=starts, ends_at=starts + timedelta(hours=8, minutes=30), timezone=TIMEZONE,
        venue="上海世博中心 蓝厅 · Shanghai Expo Centre, Blue Hall",
        address="上海市浦东新区世博大道 1500 号 · 1500 Shibo Avenue, Pudong, Shanghai",
        transport_notes=("地铁 8 号线中华艺术宫站 3 号口步行 5 分钟；地下停车场 P2 入口在国展路。"
                         "Metro line 8, China Art Museum station exit 3, 5 minutes' walk; "
                         "car park P2 entrance on Guozhan Road."),
        capacity=CAPACITY, status=EventStatus.PUBLISHED, currency="CNY")


def _pick_channel(rng: random.Random, channels: list[Channel]) -> Channel | None:
    roll = rng.random()
    for channel, (_n, _k, _c, _s, share, _lookers) in zip(channels, CHANNELS):
        if roll < share:
            return channel
        roll -= share
    return None


def seed_demo(*, contacts: int = 2000, seed: int = 2026) -> str:
    """Create the demo accounts and the demo event with its pool, channels and behaviour."""
    rng = random.Random(seed)
    now = utcnow()
    users = _demo_users()
    event = _event(now)
    ensure_ticket_keys(event)
    invites_demo.describe_event(event)
    db.session.add(event)
    db.session.flush()
    invites_demo.cover_image(event)
    for role in (EventRole.MARKETER, EventRole.STAFF, EventRole.SUPERVISOR, EventRole.SALES):
        db.session.add(Membership(event_id=event.id, user_id=users[role.value].id, role=role))
    channels = [Channel(event_id=event.id, name=name, kind=kind, code=code, spend=Decimal(spend))
                for name, kind, code, spend, _share, _lookers in CHANNELS]
    db.session.add_all(channels)
    db.session.flush()

    people = _People(rng, seed)
    pool = [people.make() for _ in range(contacts)]
    contact_rows = [Contact(name=p.name, phone=p.phone, email=p.email, company=p.company,
                            job_title=p.job_title, city=p.city, locale=p.locale,
                            sources=["import:wechat-followers.xlsx"]) for p in pool]
    db.session.add_all(contact_rows)
    db.session.flush()

    activities: list[dict[str, Any]] = []
    registrations = _registrations(rng, event, channels, contact_rows, now, activities)
    _anonymous_visits(rng, event, channels, registrations, now, activities)
    scans = checkin_demo.seed_checkin(rng, event, registrations,
                                      [users["staff"], users["supervisor"]], activities, now)
    db.session.execute(sa.insert(Activity), activities)  # bulk: synthetic history, not live use
    messages = invites_demo.messages(rng, event, channels, contact_rows, registrations, now)
    db.session.commit()
    checked_in = sum(1 for r in registrations if r.checked_in_at)
    return (f"Demo event '{event.title}' (/{EVENT_SLUG}): {contacts} contacts, "
            f"{len(registrations)} registrations, {checked_in} checked in, "
            f"{scans} scans at the gate, {len(activities)} activities, {messages} messages.")


def _registrations(rng: random.Random, event: Event, channels: list[Channel],
                   contacts: list[Contact], now: datetime,
                   activities: list[dict[str, Any]]) -> list[Registration]:
    chosen = rng.sample(contacts, k=int(len(contacts) * 0.58))
    opened = event.starts_at - timedelta(days=30)
    # Bookings build up towards the event: later days are busier.
    times = sorted(opened + (now - timedelta(hours=3) - opened) * (rng.random() ** 0.6)
                   for _ in chosen)
    registrations: list[Registration] = []
    confirmed = 0
    for contact, booked_at in zip(chosen, times):
        channel = _pick_channel(rng, channels)
        status = RegistrationStatus.CONFIRMED if confirmed < CAPACITY else \
            RegistrationStatus.WAITLISTED
        registration = Registration(event_id=event.id, contact_id=contact.id,
                                    channel_id=channel.id if channel else None, status=status,
                                    created_at=booked_at, answers=invites_demo.answers(rng),
                                    ticket_token=new_ticket_token(),
                                    share_code=new_share_code())
        issue_ticket(event, registration)
        if status == RegistrationStatus.CONFIRMED:
            confirmed += 1
            if rng.random() < 0.06:
                registration.status = RegistrationStatus.CANCELLED
                registration.cancelled_at = booked_at + (now - booked_at) * rng.random()
                confirmed -= 1
        if registrations and rng.random() < 0.05:
            registration.referrer_id = rng.choice(registrations).contact_id
        contact.consent_at, contact.consent_source = booked_at, "booking"
        contact.sources = [*contact.sources, "booking"]
        registrations.append(registration)
    db.session.add_all(registrations)
    db.session.flush()

    door_opens = event.starts_at - timedelta(minutes=30)
    for registration in registrations:
        _behaviour(rng, event, registration, door_opens, now, activities)
    return registrations


def _activity(kind: ActivityKind, event: Event, at: datetime, *, contact_id: int | None = None,
              visitor_id: str | None = None, channel_id: int | None = None,
              reference: str | None = None) -> dict[str, Any]:
    return {"kind": str(kind), "event_id": event.id, "contact_id": contact_id,
            "visitor_id": visitor_id, "channel_id": channel_id, "reference": reference,
            "value": None, "occurred_at": at}


def _behaviour(rng: random.Random, event: Event, registration: Registration,
               door_opens: datetime, now: datetime, activities: list[dict[str, Any]]) -> None:
    contact_id, channel_id = registration.contact_id, registration.channel_id
    reference = f"registration:{registration.id}"
    visitor = str(uuid.UUID(int=rng.getrandbits(128)))
    booked = registration.created_at
    for _ in range(rng.randint(1, 3)):
        activities.append(_activity(
            ActivityKind.INVITE_VIEW, event, booked - timedelta(minutes=rng.randint(1, 2880)),
            contact_id=contact_id, visitor_id=visitor, channel_id=channel_id))
    activities.append(_activity(ActivityKind.BOOKING, event, booked, contact_id=contact_id,
                                channel_id=channel_id, reference=reference))
    if registration.status == RegistrationStatus.CANCELLED:
        activities.append(_activity(ActivityKind.CANCELLATION, event, registration.cancelled_at,
                                    contact_id=contact_id, channel_id=channel_id,
                                    reference=reference))
        return
    for _ in range(rng.randint(0, 2)):
        activities.append(_activity(ActivityKind.TICKET_VIEW, event,
                                    booked + (now - booked) * rng.random(),
                                    contact_id=contact_id, reference=reference))
    if rng.random() < 0.35:
        activities.append(_activity(ActivityKind.MESSAGE_CLICK, event,
                                    booked + (now - booked) * rng.random(),
                                    contact_id=contact_id, reference="message:reminder"))
    if registration.status == RegistrationStatus.CONFIRMED and rng.random() < 0.62:
        arrived = door_opens + (now - door_opens) * (rng.random() ** 1.7)
        registration.checked_in_at = arrived
        activities.append(_activity(ActivityKind.CHECKIN, event, arrived, contact_id=contact_id,
                                    channel_id=channel_id, reference=reference))
        if rng.random() < 0.9:
            activities.append(_activity(ActivityKind.GIFT, event,
                                        min(now, arrived + timedelta(minutes=rng.randint(1, 4))),
                                        contact_id=contact_id, reference=reference))


def _anonymous_visits(rng: random.Random, event: Event, channels: list[Channel],
                      registrations: list[Registration], now: datetime,
                      activities: list[dict[str, Any]]) -> None:
    """Visitors who opened the invitation and did not book: the other side of the funnel."""
    lookers = {channel.id: spec[5] for channel, spec in zip(channels, CHANNELS)}
    opened = event.starts_at - timedelta(days=30)
    for registration in registrations:
        channel_id = registration.channel_id
        expected = lookers.get(channel_id, DIRECT_LOOKERS) if channel_id else DIRECT_LOOKERS
        count = int(expected) + (rng.random() < expected % 1)
        for _ in range(count):
            visitor = str(uuid.UUID(int=rng.getrandbits(128)))
            first = opened + (now - opened) * (rng.random() ** 0.7)
            for view in range(rng.choice((1, 1, 1, 2))):
                at = min(now, first + timedelta(hours=view * rng.randint(1, 30)))
                activities.append(_activity(ActivityKind.INVITE_VIEW, event, at,
                                            visitor_id=visitor, channel_id=channel_id))
