"""ledger: bank accounts with overdrafts and interest, and a FIFO stock inventory.

Amounts are integers in cents.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class InsufficientFunds(Exception):
    """A withdrawal would exceed the balance plus the overdraft limit."""


class OutOfStock(Exception):
    """More units were requested than the inventory holds."""


@dataclass
class Account:
    """A bank account; ``history`` holds ``(kind, amount, balance_after)`` entries."""

    owner: str
    balance: int = 0
    overdraft_limit: int = 0
    history: list[tuple[str, int, int]] = field(default_factory=list)

    def deposit(self, amount: int) -> int:
        """Add a positive amount; returns the new balance."""
        if amount <= 0:
            raise ValueError("deposit must be positive")
        self.balance += amount
        self.history.append(("deposit", amount, self.balance))
        return self.balance

    def available(self) -> int:
        """Money that can still be withdrawn, overdraft included."""
        return self.balance + self.overdraft_limit

    def withdraw(self, amount: int) -> int:
        """Take a positive amount out, within the overdraft limit; returns the new balance."""
        if amount <= 0:
            raise ValueError("withdrawal must be positive")
        if amount > self.available():
            raise InsufficientFunds(f"{self.owner} cannot withdraw {amount}")
        self.balance -= amount
        self.history.append(("withdraw", amount, self.balance))
        return self.balance

    def transfer(self, other: Account, amount: int) -> None:
        """Move ``amount`` to ``other``; nothing changes if the withdrawal fails."""
        self.withdraw(amount)
        other.deposit(amount)

    def apply_interest(self, rate_percent: int) -> int:
        """Add interest on a positive balance, or charge it on an overdrawn one (rounded down
        in the bank's favour); returns the interest amount (negative when charged)."""
        if self.balance >= 0:
            interest = self.balance * rate_percent // 100
        else:
            interest = -((-self.balance * rate_percent + 99) // 100)
        self.balance += interest
        self.history.append(("interest", interest, self.balance))
        return interest

    def statement(self) -> list[str]:
        """One line per history entry: ``kind amount -> balance``."""
        return [f"{kind} {amount} -> {after}" for kind, amount, after in self.history]


def total_deposits(account: Account) -> int:
    """Sum of all deposits in the account history."""
    return sum(amount for kind, amount, _ in account.history if kind == "deposit")


def lowest_balance(account: Account) -> int:
    """The lowest balance reached (the starting balance if there is no history)."""
    lowest = account.balance
    for _, _, after in account.history:
        lowest = min(lowest, after)
    return lowest


def split_bill(total: int, people: int) -> list[int]:
    """Split ``total`` cents among ``people`` as evenly as possible (earlier people pay the
    extra cents)."""
    if people <= 0:
        raise ValueError("people must be positive")
    share, extra = divmod(total, people)
    return [share + 1 if i < extra else share for i in range(people)]


def compound(principal: int, rate_percent: int, years: int) -> int:
    """Balance after yearly compounding, each year rounded down to whole cents."""
    if years < 0:
        raise ValueError("years must be non-negative")
    balance = principal
    for _ in range(years):
        balance = balance + balance * rate_percent // 100
    return balance


@dataclass
class Inventory:
    """Stock kept as FIFO lots of ``[quantity, unit_cost]`` per SKU."""

    lots: dict[str, list[list[int]]] = field(default_factory=dict)
    reorder_points: dict[str, int] = field(default_factory=dict)

    def receive(self, sku: str, quantity: int, unit_cost: int) -> None:
        """Add a lot of ``quantity`` units at ``unit_cost`` each."""
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        if unit_cost < 0:
            raise ValueError("unit cost must be non-negative")
        self.lots.setdefault(sku, []).append([quantity, unit_cost])

    def on_hand(self, sku: str) -> int:
        """Units of ``sku`` in stock."""
        return sum(quantity for quantity, _ in self.lots.get(sku, []))

    def ship(self, sku: str, quantity: int) -> int:
        """Remove ``quantity`` units, oldest lots first; returns their total cost."""
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        if quantity > self.on_hand(sku):
            raise OutOfStock(f"only {self.on_hand(sku)} of {sku} in stock")
        cost = 0
        lots = self.lots[sku]
        while quantity > 0:
            lot = lots[0]
            take = min(quantity, lot[0])
            cost += take * lot[1]
            lot[0] -= take
            quantity -= take
            if lot[0] == 0:
                lots.pop(0)
        return cost

    def value(self) -> int:
        """Total cost of everything in stock."""
        return sum(q * cost for lots in self.lots.values() for q, cost in lots)

    def set_reorder_point(self, sku: str, level: int) -> None:
        """Reorder ``sku`` when stock falls to ``level`` or below."""
        if level < 0:
            raise ValueError("level must be non-negative")
        self.reorder_points[sku] = level

    def to_reorder(self) -> list[str]:
        """SKUs at or below their reorder point, sorted."""
        return sorted(
            sku for sku, level in self.reorder_points.items() if self.on_hand(sku) <= level
        )

    def average_cost(self, sku: str) -> int:
        """Average unit cost of the stock on hand, rounded to the nearest cent (0 if none)."""
        units = self.on_hand(sku)
        if units == 0:
            return 0
        total = sum(q * cost for q, cost in self.lots[sku])
        return (total + units // 2) // units
