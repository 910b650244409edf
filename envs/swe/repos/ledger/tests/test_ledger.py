"""Tests of ledger."""

import pytest
from ledger import (
    Account,
    InsufficientFunds,
    Inventory,
    OutOfStock,
    compound,
    lowest_balance,
    split_bill,
    total_deposits,
)


def test_deposit_increases_balance():
    """A deposit adds to the balance and returns it."""
    account = Account("ann", 100)
    assert account.deposit(50) == 150
    assert account.balance == 150


def test_deposit_rejects_non_positive():
    """Deposits of zero or less are rejected."""
    account = Account("ann")
    with pytest.raises(ValueError):
        account.deposit(0)
    with pytest.raises(ValueError):
        account.deposit(-5)


def test_withdraw_decreases_balance():
    """A withdrawal takes money out and returns the new balance."""
    account = Account("ann", 100)
    assert account.withdraw(30) == 70


def test_withdraw_whole_balance():
    """The whole balance can be withdrawn."""
    account = Account("ann", 100)
    assert account.withdraw(100) == 0


def test_withdraw_uses_overdraft():
    """A withdrawal may use the overdraft limit."""
    account = Account("ann", 100, overdraft_limit=50)
    assert account.withdraw(150) == -50


def test_withdraw_beyond_overdraft_fails():
    """A withdrawal beyond balance plus overdraft raises and leaves the balance alone."""
    account = Account("ann", 100, overdraft_limit=50)
    with pytest.raises(InsufficientFunds):
        account.withdraw(151)
    assert account.balance == 100


def test_withdraw_rejects_non_positive():
    """Withdrawals of zero are rejected."""
    with pytest.raises(ValueError):
        Account("ann", 10).withdraw(0)


def test_available_includes_overdraft():
    """available is balance plus overdraft limit."""
    assert Account("ann", 20, overdraft_limit=30).available() == 50


def test_transfer_moves_money():
    """A transfer moves money between accounts."""
    a, b = Account("ann", 100), Account("bob", 5)
    a.transfer(b, 40)
    assert (a.balance, b.balance) == (60, 45)


def test_failed_transfer_changes_nothing():
    """A transfer that exceeds the funds changes neither account."""
    a, b = Account("ann", 10), Account("bob", 5)
    with pytest.raises(InsufficientFunds):
        a.transfer(b, 40)
    assert (a.balance, b.balance) == (10, 5)


def test_interest_on_positive_balance():
    """Interest on a positive balance is added, rounded down."""
    account = Account("ann", 1999)
    assert account.apply_interest(5) == 99
    assert account.balance == 2098


def test_interest_charged_on_overdraft():
    """Interest on an overdrawn balance is charged, rounded in the bank's favour."""
    account = Account("ann", -1001)
    assert account.apply_interest(10) == -101
    assert account.balance == -1102


def test_history_and_statement():
    """Every operation is recorded in the statement."""
    account = Account("ann", 0)
    account.deposit(100)
    account.withdraw(30)
    assert account.statement() == ["deposit 100 -> 100", "withdraw 30 -> 70"]


def test_total_deposits():
    """total_deposits sums only deposits."""
    account = Account("ann")
    account.deposit(10)
    account.deposit(20)
    account.withdraw(5)
    assert total_deposits(account) == 30


def test_lowest_balance():
    """lowest_balance finds the minimum over the history."""
    account = Account("ann", 50, overdraft_limit=100)
    account.withdraw(120)
    account.deposit(200)
    assert lowest_balance(account) == -70


def test_lowest_balance_without_history():
    """lowest_balance without history is the balance."""
    assert lowest_balance(Account("ann", 42)) == 42


def test_split_bill_even():
    """An even bill splits equally."""
    assert split_bill(900, 3) == [300, 300, 300]


def test_split_bill_remainder():
    """Extra cents go to the first people."""
    assert split_bill(1000, 3) == [334, 333, 333]
    assert sum(split_bill(1001, 4)) == 1001


def test_split_bill_rejects_no_people():
    """Splitting among nobody is rejected."""
    with pytest.raises(ValueError):
        split_bill(100, 0)


def test_compound():
    """compound applies yearly interest with rounding down."""
    assert compound(10000, 10, 2) == 12100
    assert compound(999, 10, 1) == 1098


def test_compound_zero_years():
    """compound over zero years returns the principal, and rejects negative years."""
    assert compound(500, 7, 0) == 500
    with pytest.raises(ValueError):
        compound(500, 7, -1)


def test_receive_and_on_hand():
    """Received lots add up in on_hand."""
    inventory = Inventory()
    inventory.receive("nut", 10, 5)
    inventory.receive("nut", 5, 7)
    assert inventory.on_hand("nut") == 15
    assert inventory.on_hand("bolt") == 0


def test_receive_rejects_bad_lots():
    """A lot needs a positive quantity and a non-negative cost."""
    inventory = Inventory()
    with pytest.raises(ValueError):
        inventory.receive("nut", 0, 5)
    with pytest.raises(ValueError):
        inventory.receive("nut", 1, -1)


def test_ship_fifo_cost():
    """Shipping takes the oldest lots first and returns their cost."""
    inventory = Inventory()
    inventory.receive("nut", 10, 5)
    inventory.receive("nut", 10, 8)
    assert inventory.ship("nut", 12) == 10 * 5 + 2 * 8
    assert inventory.on_hand("nut") == 8


def test_ship_exact_lot():
    """Shipping a whole lot removes it."""
    inventory = Inventory()
    inventory.receive("nut", 4, 3)
    inventory.receive("nut", 4, 9)
    assert inventory.ship("nut", 4) == 12
    assert inventory.lots["nut"] == [[4, 9]]


def test_ship_out_of_stock():
    """Shipping more than on hand raises OutOfStock and keeps the stock."""
    inventory = Inventory()
    inventory.receive("nut", 3, 1)
    with pytest.raises(OutOfStock):
        inventory.ship("nut", 4)
    assert inventory.on_hand("nut") == 3


def test_inventory_value():
    """value sums quantity times cost over every lot."""
    inventory = Inventory()
    inventory.receive("nut", 10, 5)
    inventory.receive("bolt", 2, 30)
    assert inventory.value() == 110


def test_reorder_points():
    """SKUs at or below their reorder point are listed, sorted."""
    inventory = Inventory()
    inventory.receive("nut", 10, 5)
    inventory.receive("bolt", 3, 30)
    inventory.set_reorder_point("nut", 10)
    inventory.set_reorder_point("bolt", 2)
    inventory.set_reorder_point("axle", 0)
    assert inventory.to_reorder() == ["axle", "nut"]


def test_reorder_point_rejects_negative():
    """A negative reorder point is rejected."""
    with pytest.raises(ValueError):
        Inventory().set_reorder_point("nut", -1)


def test_average_cost():
    """average_cost rounds to the nearest cent."""
    inventory = Inventory()
    inventory.receive("nut", 2, 5)
    inventory.receive("nut", 1, 6)
    assert inventory.average_cost("nut") == 5
    inventory.receive("nut", 1, 8)
    assert inventory.average_cost("nut") == 6
    assert inventory.average_cost("bolt") == 0
